"""Read access: who sees which case of a process, and whether its personal data is shown."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qmsflow.engine.access import (
    FULL,
    HIDDEN,
    CaseFacts,
    Reader,
    Visibility,
    by_role,
    can_read,
    default_rules,
    masked,
)
from qmsflow.engine.diff import diff
from qmsflow.engine.loader import load
from qmsflow.engine.model import DefinitionSet, Process, ReadRule

from ..conftest import EditSet

COMPLAINT = "processes/complaint.yaml"


def facts(**given: object) -> CaseFacts:
    """A complaint registered by ann, sitting in quality's queue, nobody else involved."""
    base = CaseFacts(registered_by="ann", state="investigation", assignee=None,
                     assignee_role="quality", actors=frozenset({"ann"}),
                     registrar_departments=frozenset({"sales"}))
    return replace(base, **given)  # type: ignore[arg-type]


def reader(user: str, *roles: str, departments: tuple[str, ...] = ()) -> Reader:
    return Reader(user, frozenset(roles), frozenset(departments))


@pytest.fixture
def complaint(default_set: DefinitionSet) -> Process:
    return default_set.process("complaint")


def test_quality_reads_every_complaint_with_personal_data(complaint: Process) -> None:
    assert can_read(complaint, reader("qa", "quality_manager"),
                    facts(assignee_role="sales")) == FULL


def test_a_salesperson_reads_the_complaints_they_registered_and_no_other(
        complaint: Process) -> None:
    assert can_read(complaint, reader("ann", "sales"), facts()) == FULL
    assert can_read(complaint, reader("bob", "sales"), facts()) == HIDDEN


def test_a_salesperson_reads_a_complaint_they_worked_on(complaint: Process) -> None:
    worked = facts(actors=frozenset({"ann", "bob"}))
    assert can_read(complaint, reader("bob", "sales"), worked) == FULL


def test_whoever_must_work_a_case_reads_it_whatever_the_rules_say(complaint: Process) -> None:
    in_queue = facts(assignee_role="technical")
    assert can_read(complaint, reader("tom", "technical"), in_queue) == FULL
    assigned = facts(assignee="fay", assignee_role=None)
    assert can_read(complaint, reader("fay", "finance"), assigned) == FULL


def test_finance_reads_closed_complaints_without_personal_data(complaint: Process) -> None:
    closed = facts(state="closed", assignee_role=None)
    assert can_read(complaint, reader("fay", "finance"), closed) == Visibility(True, False)
    assert can_read(complaint, reader("fay", "finance"), facts()) == HIDDEN


def test_a_sales_manager_reads_the_complaints_registered_in_their_department(
        complaint: Process) -> None:
    manager = reader("max", "sales_manager", departments=("sales",))
    assert can_read(complaint, manager, facts()) == FULL
    elsewhere = reader("max", "sales_manager", departments=("finance",))
    assert can_read(complaint, elsewhere, facts()) == HIDDEN


def test_a_role_no_rule_names_reads_nothing_outside_its_work(complaint: Process) -> None:
    assert can_read(complaint, reader("eve", "engineer"), facts()) == HIDDEN
    assert can_read(complaint, reader("nobody"), facts()) == HIDDEN


def test_one_rule_showing_personal_data_is_enough(complaint: Process) -> None:
    both = reader("fay", "finance", "quality")
    assert can_read(complaint, both, facts(state="closed")) == FULL


def test_masked_values_lose_exactly_the_personal_data_fields(complaint: Process) -> None:
    values = {"complainant_name": "Li Lei", "complainant_org": "City Hospital",
              "complainant_email": "li@example.com"}
    assert masked(complaint, values, Visibility(True, False)) == {
        "complainant_org": "City Hospital"}
    assert masked(complaint, values, FULL) == values


def test_without_a_read_block_the_step_roles_read_their_queues_and_involvement(
        complaint: Process) -> None:
    rules = default_rules(complaint)
    assert [(set(r.cases), r.pii) for r in rules] == [({"queue", "involved"}, True)]
    assert "gm" in rules[0].roles and "finance" not in rules[0].roles
    plain = replace(complaint, read=rules)
    assert can_read(plain, reader("gm1", "gm"), facts()) == HIDDEN
    assert can_read(plain, reader("gm1", "gm"), facts(actors=frozenset({"gm1"}))) == FULL
    assert can_read(plain, reader("fay", "finance"), facts(state="closed")) == HIDDEN


def test_a_set_without_read_rules_compiles_to_the_default(
        edited_set: EditSet) -> None:
    path = edited_set((COMPLAINT, "\nread:\n", "\nold_read:\n"))
    text = (path / COMPLAINT).read_text(encoding="utf-8")
    start = text.index("\nold_read:\n")
    end = text.index("\ninbox:\n")
    (path / COMPLAINT).write_text(text[:start] + text[end:], encoding="utf-8")
    process = load(path).process("complaint")
    assert not process.read_declared
    assert process.read == default_rules(process)


def test_the_version_diff_names_a_role_whose_read_access_changed(
        default_set: DefinitionSet) -> None:
    complaint = default_set.process("complaint")
    wider = replace(complaint, read=(*complaint.read, ReadRule(("engineer",),
                                                                frozenset({"all"}), False)))
    changed = replace(default_set, processes={**default_set.processes, "complaint": wider})
    assert [c.words for c in diff(default_set, changed)] == [
        "read access of role 'engineer' (complaint) added: reads all (personal data hidden)"]
    assert by_role(wider)["engineer"] == ("all (personal data hidden)",)


def test_a_rule_for_the_cases_one_opened_covers_no_other(complaint: Process) -> None:
    own = replace(complaint, read=(ReadRule(("engineer",), frozenset({"opened"})),))
    assert can_read(own, reader("ann", "engineer"), facts()) == FULL
    assert can_read(own, reader("eve", "engineer"), facts(actors=frozenset({"eve"}))) == HIDDEN
