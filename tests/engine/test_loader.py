"""Loading definition sets: valid sets compile, every problem is found and located."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from qmsflow.engine.loader import check, load
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.problems import DefinitionError, Problem

from ..conftest import DEFAULT_SET, EXAMPLE_SETS, EditSet

LINE = re.compile(r"^[^:\n]+:\d+:\d+: [A-Z]\d{3} \$\S*: [^\n]+$")
COMPLAINT = "processes/complaint.yaml"


def line_of(path: Path, text: str) -> int:
    """1-based line of the first occurrence of ``text`` in a file."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def only(problems: list[Problem], code: str) -> Problem:
    found = [p for p in problems if p.code == code]
    assert len(found) == 1, "\n".join(map(str, problems))
    return found[0]


@pytest.mark.parametrize("path", [DEFAULT_SET, *EXAMPLE_SETS], ids=lambda p: p.name)
def test_every_bundled_definition_set_is_valid(path: Path) -> None:
    assert check(path) == []


def test_the_default_set_has_both_processes_in_both_locales(default_set: DefinitionSet) -> None:
    assert {"complaint", "service_request"} <= set(default_set.processes)
    assert default_set.organisation.locales == ("zh-CN", "en")
    complaint = default_set.processes["complaint"]
    assert complaint.label == {"zh-CN": "客户投诉", "en": "Customer complaint"}


def test_compiled_definitions_cannot_be_changed(default_set: DefinitionSet) -> None:
    process = default_set.processes["complaint"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        process.id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        process.states["closed"] = process.states["registered"]  # type: ignore[index]


def test_the_version_is_a_content_hash_that_changes_with_any_edit(edited_set: EditSet) -> None:
    same = load(DEFAULT_SET).version
    assert load(DEFAULT_SET).version == same
    changed = edited_set((COMPLAINT, "zh-CN: 已登记", "zh-CN: 已受理登记"))
    assert load(changed).version != same


def test_an_unknown_state_is_reported_at_its_line_with_a_suggestion(edited_set: EditSet) -> None:
    folder = edited_set((COMPLAINT, "    to: investigation\n", "    to: investigaton\n"))
    problem = only(check(folder), "E201")
    assert problem.message == "unknown state 'investigaton'"
    assert problem.hint == "did you mean 'investigation'?"
    assert problem.file.endswith("processes/complaint.yaml")
    assert problem.line == line_of(folder / COMPLAINT, "to: investigaton")
    assert problem.path.startswith("$.transitions[")


def test_problems_from_several_files_are_all_collected_and_sorted(edited_set: EditSet) -> None:
    folder = edited_set(
        (COMPLAINT, "    roles: [gm_office, gm]", "    roles: [gm_ofice, gm]"),
        ("organisation.yaml", "department: finance", "department: acounting"),
    )
    problems = check(folder)
    assert [p.code for p in problems] == ["E201", "E201"]
    assert problems == sorted(problems)
    assert {Path(p.file).name for p in problems} == {"organisation.yaml", "complaint.yaml"}
    with pytest.raises(DefinitionError) as raised:
        load(folder)
    assert raised.value.problems == tuple(problems)


def test_every_problem_prints_as_one_line_with_location_code_and_path(
        edited_set: EditSet) -> None:
    folder = edited_set((COMPLAINT, "  - id: closed\n", "  - id: closed\n    colour: red\n"))
    problem = only(check(folder), "S002")
    assert LINE.match(str(problem)), str(problem)
    assert problem.message == "unexpected key 'colour'"
    assert problem.line == line_of(folder / COMPLAINT, "colour: red")


def test_a_misspelt_key_suggests_the_right_one(edited_set: EditSet) -> None:
    folder = edited_set((COMPLAINT, "    label: {zh-CN: 已结案", "    labl: {zh-CN: 已结案"))
    problems = check(folder)
    assert any(p.code == "S002" and p.hint == "did you mean 'label'?" for p in problems)


def test_a_duplicate_key_is_an_error_instead_of_silently_winning(edited_set: EditSet) -> None:
    folder = edited_set((COMPLAINT, "default_priority: medium\n",
                         "default_priority: medium\ndefault_priority: low\n"))
    problem = only(check(folder), "Y002")
    assert "duplicate key 'default_priority'" in problem.message
    assert problem.line == line_of(folder / COMPLAINT, "default_priority: low")


def test_a_bare_yes_where_text_is_expected_says_yaml_read_it_as_a_boolean(
        edited_set: EditSet) -> None:
    folder = edited_set((COMPLAINT, "zh-CN: 高, en: High", "zh-CN: 高, en: yes"))
    problem = only(check(folder), "S003")
    assert "read" in problem.message and "'yes' as the boolean true" in problem.message


def test_a_bare_date_where_an_id_is_expected_says_yaml_read_it_as_a_date(
        edited_set: EditSet) -> None:
    folder = edited_set((COMPLAINT, "  - id: closed\n", "  - id: 2026-10-01\n"))
    problems = check(folder)
    assert any(p.code == "S005" and "as a date" in p.message for p in problems), problems


def test_a_yaml_syntax_error_is_one_located_problem(edited_set: EditSet) -> None:
    folder = edited_set((COMPLAINT, "default_priority: medium", "default_priority: [medium"))
    problem = only(check(folder), "Y001")
    assert problem.message.startswith("YAML syntax")
    assert problem.line >= line_of(folder / COMPLAINT, "default_priority: [medium")


@pytest.mark.parametrize("expression", [
    "description.__class__", "''.__class__.__mro__", "range(10)", "description.upper()",
])
def test_an_expression_that_reaches_python_internals_is_refused_at_load_time(
        edited_set: EditSet, expression: str) -> None:
    folder = edited_set((COMPLAINT, "if: \"is_complaint != false\"", f"if: \"{expression}\""))
    problem = only(check(folder), "X301")
    assert problem.line == line_of(folder / COMPLAINT, expression)


def test_an_expression_reading_an_unknown_field_suggests_the_field(edited_set: EditSet) -> None:
    folder = edited_set((COMPLAINT, "if: \"is_complaint != false\"", "if: \"is_complant\""))
    problem = only(check(folder), "X302")
    assert problem.hint == "did you mean 'is_complaint'?"


def test_a_state_nobody_can_reach_and_a_dead_end_are_reported(edited_set: EditSet) -> None:
    folder = edited_set((COMPLAINT, "  - id: superseded\n", "  - id: limbo\n    label: "
                         "{zh-CN: 悬空, en: Limbo}\n  - id: superseded\n"))
    problems = check(folder)
    assert {p.code for p in problems} == {"E203", "E204"}
    assert all("'limbo'" in p.message for p in problems)


def test_authority_tiers_must_rise(edited_set: EditSet) -> None:
    folder = edited_set((COMPLAINT, "        limit: 50000", "        limit: 4000"))
    problem = only(check(folder), "E205")
    assert "does not rise above tier 'department_head'" in problem.message


def test_a_label_missing_a_declared_locale_is_reported(edited_set: EditSet) -> None:
    folder = edited_set((COMPLAINT, "label: {zh-CN: 低, en: Low}", "label: {zh-CN: 低}"))
    problem = only(check(folder), "E206")
    assert problem.message == "no text for locale en"


def test_a_set_that_extends_a_missing_base_says_where_it_looked(tmp_path: Path) -> None:
    (tmp_path / "set.yaml").write_text(
        "kind: definition-set\nid: x\nlabel: {en: X}\nextends: ../nowhere\n", encoding="utf-8")
    problem = only(check(tmp_path), "E107")
    assert "nowhere" in problem.message and problem.line == 4


def _client_set(folder: Path, extends: str) -> Path:
    folder.mkdir()
    (folder / "set.yaml").write_text(
        f"kind: definition-set\nid: client\nlabel: {{en: Client}}\nextends: {extends}\n",
        encoding="utf-8")
    return folder


def test_a_set_from_outside_the_server_extends_a_set_the_server_offers_by_its_name(
        tmp_path: Path) -> None:
    offered = {"default": DEFAULT_SET}
    for number, extends in enumerate(("../default", "../../default", "default")):
        folder = _client_set(tmp_path / f"client{number}", extends)
        assert check(folder, offered) == []
        assert load(folder, offered).processes.keys() == load(DEFAULT_SET).processes.keys()


def test_a_set_from_outside_the_server_cannot_extend_any_other_folder(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "set.yaml").write_text("kind: definition-set\nid: s\nlabel: {en: S}\n",
                                     encoding="utf-8")
    offered = {"default": DEFAULT_SET, "examples/kangning": EXAMPLE_SETS[0]}
    for extends in (str(secret), "../secret", "/root/.ssh", "../../../../etc"):
        problem = only(check(_client_set(tmp_path / f"c{len(extends)}", extends), offered),
                       "E112")
        assert f"{extends!r} is not a set this server offers" in problem.message
        assert problem.hint == "the sets this server offers: default, examples/kangning"
        assert "looked for" not in problem.message  # nothing about the folder is told
    close = only(check(_client_set(tmp_path / "typo", "../defualt"), offered), "E112")
    assert close.hint == "did you mean 'default'?"


def test_sets_that_extend_each_other_are_reported_as_a_cycle(tmp_path: Path) -> None:
    for name, other in (("a", "b"), ("b", "a")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "set.yaml").write_text(
            f"kind: definition-set\nid: {name}\nlabel: {{en: {name}}}\nextends: ../{other}\n",
            encoding="utf-8")
    problem = only(check(tmp_path / "a"), "E106")
    assert "cycle" in problem.message


def test_an_override_that_names_nothing_in_the_base_suggests_the_base_id(tmp_path: Path) -> None:
    (tmp_path / "set.yaml").write_text(
        f"kind: definition-set\nid: client\nlabel: {{en: C, zh-CN: C}}\n"
        f"extends: {DEFAULT_SET}\n", encoding="utf-8")
    (tmp_path / "complaint.yaml").write_text(
        "kind: process\nid: complaint\nclocks:\n  - id: closur\n    variants: []\n",
        encoding="utf-8")
    problem = only(check(tmp_path), "E110")
    assert problem.hint == "did you mean 'closure'?"
    assert (problem.line, problem.column) == (4, 9)


def test_an_overlay_changes_the_base_without_copying_it() -> None:
    base = load(DEFAULT_SET).processes["complaint"]
    client = load(DEFAULT_SET.parent / "examples" / "kangning").processes["complaint"]
    assert client.clocks["closure"].variants[0].duration.amount == 4
    assert base.clocks["closure"].variants[0].duration.amount == 5
    assert [t.limit for t in client.authorities["compensation"].tiers][1] == 30000
    assert client.categories["sterility"].path == ("quality", "sterility")
    assert "hospital_grade" in client.fields and "hospital_grade" not in base.fields
    # Everything not overridden is the base's, unchanged.
    assert client.steps == base.steps
    assert client.states == base.states


def test_a_notification_template_reading_an_unknown_name_is_reported(
        edited_set: EditSet) -> None:
    folder = edited_set(("notifications.yaml", "{{ reply_summary }}\n      en:",
                         "{{ reply_sumary }}\n      en:"))
    problem = only(check(folder), "X302")
    assert problem.message == "template reads 'reply_sumary', which is no field of any process"
    assert problem.hint == "did you mean 'reply_summary'?"


def test_a_set_kept_inside_another_sets_folder_is_not_read_as_part_of_it(
        edited_set: EditSet) -> None:
    client = ("kind: definition-set\nid: client\nlabel: {zh-CN: 客户, en: Client}\n"
              "extends: ../..\n")
    roles = ("kind: organisation\nroles:\n  - op: add\n    id: auditor\n"
             "    label: {zh-CN: 审核员, en: Auditor}\n")
    folder = edited_set(files={"clients/acme/set.yaml": client,
                               "clients/acme/organisation.yaml": roles})
    assert "auditor" not in load(folder).organisation.roles
    assert "auditor" in load(folder / "clients" / "acme").organisation.roles
