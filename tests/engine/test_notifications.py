"""Rendering notifications: the reader's language, display values, local times, the sandbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from qmsflow.engine.model import DefinitionSet, Template
from qmsflow.engine.notifications import Recipient, RenderFailed, context, reads, render

from .test_machine import register


def test_a_template_reads_choice_labels_and_local_times_in_the_readers_language(
        default_set: DefinitionSet, now: datetime) -> None:
    case = register(default_set, now)
    template = default_set.templates["acknowledgement"]
    chinese = render(template, "zh-CN", context(default_set, case, "zh-CN"))
    assert chinese.subject == f"您的反馈已受理（编号 {case.number}）"
    local = now.astimezone(ZoneInfo(default_set.organisation.timezone))
    assert f"{local:%Y-%m-%d %H:%M}" in chinese.body
    english = render(template, "en", context(default_set, case, "en"))
    assert english.subject == f"We have received your report ({case.number})"
    values = context(default_set, case, "en")
    assert values["channel"] == "Phone" and values["patient_involved"] == "no"


def test_a_context_limited_to_what_the_template_reads_renders_the_same(
        default_set: DefinitionSet, now: datetime) -> None:
    case = register(default_set, now)
    template = default_set.templates["acknowledgement"]
    assert reads(template) >= {"case", "complainant_name", "contact_name"}
    full = render(template, "en", context(default_set, case, "en"))
    lean = render(template, "en", context(default_set, case, "en", names=reads(template)))
    assert lean == full


def test_a_template_reads_a_persons_name_never_an_account_id(
        default_set: DefinitionSet, now: datetime) -> None:
    case = register(default_set, now)
    case = replace(case, values={**case.values, "plan_owner": "engineer.li"},
                   assignee="engineer.li")
    values = context(default_set, case, "zh-CN", people={"engineer.li": "李工"})
    assert values["plan_owner"] == "李工"
    assert values["case"]["assignee"] == "李工"
    # Without the names (a caller that has none), the id as stored rather than nothing.
    assert context(default_set, case, "zh-CN")["plan_owner"] == "engineer.li"


def test_a_subject_is_one_line_whatever_the_template_says(default_set: DefinitionSet,
                                                          now: datetime) -> None:
    case = register(default_set, now)
    template = Template("t", {"en": "T"}, {"en": "Case\n{{ case.number }}\n"}, {"en": "x"},
                        "email")
    assert render(template, "en", context(default_set, case, "en")).subject == (
        f"Case {case.number}")


def test_a_template_failing_at_run_time_says_which_and_why(default_set: DefinitionSet,
                                                           now: datetime) -> None:
    case = register(default_set, now)
    broken = replace(default_set.templates["closed"],
                     subject={"en": "{{ case.number.nothing_here }}"})
    with pytest.raises(RenderFailed, match="template 'closed' \\(en\\)"):
        render(broken, "en", context(default_set, case, "en"))


def test_the_sandbox_keeps_templates_away_from_python_internals(default_set: DefinitionSet,
                                                                now: datetime) -> None:
    case = register(default_set, now)
    sneaky = Template("t", {"en": "T"}, {"en": "{{ case.__class__.__mro__ }}"}, {"en": "x"},
                      "email")
    with pytest.raises(RenderFailed):
        render(sneaky, "en", context(default_set, case, "en"))


@pytest.mark.parametrize(("spec", "expected"), [
    ("role:quality", Recipient("role", "quality")),
    ("field:complainant_email", Recipient("field", "complainant_email")),
    ("assignee", Recipient("assignee")), ("creator", Recipient("creator"))])
def test_recipients_are_roles_fields_the_assignee_or_the_creator(spec: str,
                                                                  expected: Recipient) -> None:
    assert Recipient.parse(spec) == expected


def test_an_unknown_recipient_says_how_to_write_one() -> None:
    with pytest.raises(ValueError, match="write role:<id>, field:<id>, assignee or creator"):
        Recipient.parse("everyone")
