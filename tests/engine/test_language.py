"""Authority over several amounts or none, category flags, steps offered in every open state or
leaving the case where it is, and labelled relations between linked cases.

The process under test is ``tests/engine/language/ticket.yaml`` laid over the corpus base set.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qmsflow.engine.cases import Actor, Case
from qmsflow.engine.diff import diff
from qmsflow.engine.graph import mermaid
from qmsflow.engine.loader import check, load
from qmsflow.engine.machine import Refused, apply, available, open_linked, start
from qmsflow.engine.model import DefinitionSet

HERE = Path(__file__).parent
BASE = HERE / "corpus" / "base"
CLERK = Actor("clerk1", "Clerk One", frozenset({"clerk"}))
MANAGER = Actor("manager1", "Manager One", frozenset({"manager"}))
DIRECTOR = Actor("director1", "Director One", frozenset({"director"}))


def make_set(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    """The corpus base with the language test process, text replaced in it."""
    target = tmp_path / "set"
    shutil.copytree(BASE, target)
    text = (HERE / "language" / "ticket.yaml").read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    (target / "processes" / "ticket.yaml").write_text(text, encoding="utf-8")
    return target


@pytest.fixture
def definition(tmp_path: Path) -> DefinitionSet:
    return load(make_set(tmp_path))


def open_ticket(definition: DefinitionSet, now: datetime, **values: Any) -> Case:
    inputs = {"title": "Pump alarm", **values}
    return start(definition, "ticket", "create", CLERK, inputs, now, "TK-2026-0001").case


def in_review(definition: DefinitionSet, now: datetime, **values: Any) -> Case:
    case = open_ticket(definition, now, **values)
    return apply(definition, case, "submit", CLERK, {}, now).case


# -- authority over several amounts, or none -----------------------------------------------------

def test_a_step_needs_the_highest_tier_any_of_its_amounts_needs_and_says_which_amount(
        definition: DefinitionSet, now: datetime) -> None:
    case = in_review(definition, now, amount="100", repair_cost="8000")
    with pytest.raises(Refused) as refused:
        apply(definition, case, "approve", MANAGER, {}, now)
    (reason,) = refused.value.reasons
    assert reason.code == "authority"
    assert reason.field == "repair_cost"
    assert reason.message == "needs director: amount 8,000 above your limit 5,000 (Repair cost)"
    assert dict(reason.details)["needed"] == "director"
    assert apply(definition, case, "approve", DIRECTOR, {}, now).case.state == "closed"


def test_amounts_within_the_lowest_limit_are_decided_by_the_lowest_tier(
        definition: DefinitionSet, now: datetime) -> None:
    case = in_review(definition, now, amount="3000", repair_cost="4000")
    assert case.assignee_role == "manager"
    assert apply(definition, case, "approve", MANAGER, {}, now).case.state == "closed"


def test_a_case_is_routed_to_the_highest_tier_any_of_its_amounts_needs(
        definition: DefinitionSet, now: datetime) -> None:
    assert in_review(definition, now, amount="9000", repair_cost="10").assignee_role == "director"
    assert in_review(definition, now, amount="10", repair_cost="9000").assignee_role == "director"


def test_without_any_amount_the_lowest_tier_decides_by_default(
        definition: DefinitionSet, now: datetime) -> None:
    case = in_review(definition, now)
    assert case.assignee_role == "manager"
    assert available(definition, case, MANAGER, now)["approve"] == ()


def test_a_matrix_without_an_amount_needs_the_tier_it_names_and_refuses_those_below(
        definition: DefinitionSet, now: datetime) -> None:
    case = in_review(definition, now, amount="10")
    (reason,) = available(definition, case, MANAGER, now)["sign_off"]
    assert reason.code == "authority"
    assert "without an amount" in reason.message
    assert dict(reason.details) == {"needed": "director", "tier": "director_tier"}
    assert available(definition, case, DIRECTOR, now)["sign_off"] == ()


def test_a_state_routed_by_a_matrix_without_an_amount_goes_to_its_named_tier(
        tmp_path: Path, now: datetime) -> None:
    definition = load(make_set(tmp_path, ("route_by: spending", "route_by: signoff")))
    assert in_review(definition, now, amount="10").assignee_role == "director"


def test_the_single_field_form_still_reads_one_amount(tmp_path: Path, now: datetime) -> None:
    definition = load(make_set(tmp_path, ("fields: [amount, repair_cost]", "field: amount")))
    case = in_review(definition, now, amount="10", repair_cost="9000")
    assert case.assignee_role == "manager"
    assert definition.process("ticket").authorities["spending"].fields == ("amount",)


# -- flags carried by categories -----------------------------------------------------------------

def test_a_case_carries_the_flags_of_its_category_and_its_ancestors(
        definition: DefinitionSet, now: datetime) -> None:
    assert "reportable" in open_ticket(definition, now, category="burn").flags
    assert "reportable" not in open_ticket(definition, now, category="cosmetic").flags


def test_a_category_flag_goes_when_the_case_is_reclassified_and_an_effects_flag_stays(
        definition: DefinitionSet, now: datetime) -> None:
    case = open_ticket(definition, now, category="burn")
    case = apply(definition, case, "add_note", CLERK, {"note": "called back"}, now).case
    assert case.flags == {"reportable", "noted"}
    case = apply(definition, case, "reclassify", CLERK, {"category": "cosmetic"}, now).case
    assert case.flags == {"noted"}


def test_an_expression_reads_a_category_flag(definition: DefinitionSet, now: datetime) -> None:
    flagged = open_ticket(definition, now, category="burn")
    plain = open_ticket(definition, now, category="cosmetic")
    assert available(definition, flagged, MANAGER, now)["alert"] == ()
    assert [r.code for r in available(definition, plain, MANAGER, now)["alert"]] == ["condition"]


def test_a_linked_case_gets_the_flags_of_the_category_copied_into_it(
        definition: DefinitionSet, now: datetime) -> None:
    case = open_ticket(definition, now, category="burn")
    outcome = apply(definition, case, "cancel", MANAGER, {}, now)
    (event,) = [e for e in outcome.events if e.kind == "open_case"]
    opened, _ = open_linked(definition, outcome.case, event, MANAGER, now, "TK-2026-0002")
    assert "reportable" in opened.case.flags


# -- steps offered in every open state, and steps that stay --------------------------------------

def test_a_step_from_any_state_is_offered_in_every_open_state(
        definition: DefinitionSet, now: datetime) -> None:
    opened = open_ticket(definition, now)
    reviewed = apply(definition, opened, "submit", CLERK, {}, now).case
    assert "add_note" in available(definition, opened, CLERK, now)
    assert "add_note" in available(definition, reviewed, MANAGER, now)
    assert definition.process("ticket").steps["add_note"].sources == ("open", "review")


def test_a_step_that_stays_keeps_the_state_the_queue_and_the_person_and_records_from_equal_to(
        definition: DefinitionSet, now: datetime) -> None:
    case = in_review(definition, now, amount="9000")
    case = replace(case, assignee="director1")
    later = now + timedelta(hours=1)
    outcome = apply(definition, case, "add_note", DIRECTOR, {"note": "see photos"}, later)
    after = outcome.case
    assert (after.state, after.assignee_role, after.assignee) == ("review", "director",
                                                                  "director1")
    assert after.closed_at is None and after.values["note"] == "see photos"
    head = outcome.events[0]
    assert (head.kind, head.data["from"], head.data["to"]) == ("transition", "review", "review")


def test_a_step_that_stays_moves_the_case_to_another_queue_only_by_an_assign_effect(
        tmp_path: Path, now: datetime) -> None:
    definition = load(make_set(tmp_path, ("      - flag: {add: [noted]}\n",
                                          "      - flag: {add: [noted]}\n"
                                          "      - assign: {role: director}\n")))
    case = replace(open_ticket(definition, now), assignee="clerk1")
    after = apply(definition, case, "add_note", CLERK, {"note": "for the director"}, now).case
    assert (after.state, after.assignee_role, after.assignee) == ("open", "director", None)


def test_a_step_that_stays_is_not_offered_on_a_finished_case(
        definition: DefinitionSet, now: datetime) -> None:
    closed = apply(definition, in_review(definition, now), "approve", MANAGER, {}, now).case
    assert "add_note" not in available(definition, closed, MANAGER, now)
    with pytest.raises(Refused) as refused:
        apply(definition, closed, "add_note", MANAGER, {"note": "late"}, now)
    assert [r.code for r in refused.value.reasons] == ["final"]


def test_a_step_from_any_state_with_a_target_moves_the_case_there_from_each(
        definition: DefinitionSet, now: datetime) -> None:
    for case in (open_ticket(definition, now), in_review(definition, now)):
        outcome = apply(definition, case, "cancel", MANAGER, {}, now)
        assert outcome.case.state == "cancelled" and outcome.case.closed_at == now


def test_the_state_diagram_draws_a_step_that_stays_as_a_loop_on_each_open_state(
        definition: DefinitionSet) -> None:
    text = mermaid(definition.process("ticket"))
    assert "open --> open: Add a note" in text and "review --> review: Add a note" in text
    assert "closed --> closed" not in text
    assert "review --> cancelled: Cancel and reopen" in text


def test_a_state_only_a_step_that_stays_leaves_has_no_way_out(tmp_path: Path) -> None:
    # Approving and signing off stay in review; cancelling only leaves 'open'.
    problems = check(make_set(
        tmp_path, *[(f"from: [review]\n    to: closed\n    roles: [manager, director]\n"
                     f"    authority: {matrix}", f"from: [review]\n    stay: true\n"
                     f"    roles: [manager, director]\n    authority: {matrix}")
                    for matrix in ("spending", "signoff")],
        ("from: any\n    to: cancelled", "from: [open]\n    to: cancelled")))
    assert {(p.code, p.message) for p in problems} >= {
        ("E204", "state 'review' has no way out and is not final"),
        ("E203", "state 'closed' cannot be reached from any start step")}


# -- relations between linked cases --------------------------------------------------------------

def test_linked_cases_name_each_other_by_the_relations_labels_both_ways(
        definition: DefinitionSet, now: datetime) -> None:
    case = open_ticket(definition, now)
    outcome = apply(definition, case, "cancel", MANAGER, {}, now)
    (event,) = [e for e in outcome.events if e.kind == "open_case"]
    opened, source = open_linked(definition, outcome.case, event, MANAGER, now, "TK-2026-0002")
    org = definition.organisation
    (forward,), (backward,) = opened.case.links, source.links
    assert org.relation_label(forward.relation, "en") == "Follow-up of"
    assert org.relation_label(backward.relation, "en") == "Followed up by"
    assert org.relation_label(backward.relation, "zh-CN") == "后续为"


def test_a_relation_no_longer_declared_is_shown_by_its_id(definition: DefinitionSet) -> None:
    assert definition.organisation.relation_label("gone:reverse", "en") == "gone:reverse"


# -- what a new version changes --------------------------------------------------------------------

def test_the_version_diff_words_steps_from_any_state_that_stay_flags_amounts_and_relations(
        tmp_path: Path, definition: DefinitionSet) -> None:
    changed = make_set(tmp_path / "new",
                       ("    from: any\n    stay: true\n    roles: [clerk, manager]\n",
                        "    from: [open]\n    to: review\n    roles: [clerk, manager]\n"),
                       ("    flags: [reportable]\n", ""),
                       ("    fields: [amount, repair_cost]", "    fields: [amount]"))
    organisation = changed / "organisation.yaml"
    organisation.write_text(organisation.read_text(encoding="utf-8").replace(
        "en: Followed up by", "en: Continued in"), encoding="utf-8")
    words: dict[str, str] = {}
    for change in diff(definition, load(changed)):
        words[change.subject] = words.get(change.subject, "") + change.words + "\n"
    assert "from states changed from any to open" in words["reclassify"]
    assert "to state changed from (stays where it is) to review" in words["reclassify"]
    assert "flags: removed reportable" in words["safety"]
    assert "amount fields changed from amount, repair_cost to amount" in words["spending"]
    assert "reverse label changed from 'Followed up by' to 'Continued in'" in words["follow_up_of"]


def test_the_user_list_shows_the_tier_held_of_a_matrix_that_reads_no_amount(
        definition: DefinitionSet) -> None:
    from qmsflow.cli.users import _limits

    assert _limits(definition, DIRECTOR) == (
        "Spending approval no limit; Plan sign-off tier director_tier")
    assert _limits(definition, MANAGER) == (
        "Spending approval up to 5,000; Plan sign-off tier manager_tier")
