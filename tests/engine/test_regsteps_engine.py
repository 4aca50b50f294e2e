"""A step's effects update a register entry, computed by the pure engine from the entry's
values the caller read: the outcome carries the change, the register's own field rules refuse
what they do not allow, and without the entries nothing is changed (a scenario)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from qmsflow.engine import register_updates
from qmsflow.engine.cases import Actor, Case
from qmsflow.engine.expressions import EvaluationError, compile_expression
from qmsflow.engine.machine import Refused, apply, start
from qmsflow.engine.model import DefinitionSet

from .test_surveys import REQUEST

DESK = Actor("lin.jing", "林静", frozenset({"service_desk"}))
TECH = Actor("zhou.tech", "周工", frozenset({"technical", "technical_manager"}))
LOANER = {"serial": "LN-01", "product": "XR-200", "status": "available"}
CUSTOMER_DEVICE = {"serial": "SN-1", "product": "XR-200", "customer": "C-001"}


def request(definition: DefinitionSet, now: datetime) -> Case:
    """A request for a registered device of customer C-001, the device out of use."""
    inputs = {**REQUEST, "severity": "unusable", "installed_device": "SN-1"}
    return start(definition, "service_request", "report_fault", DESK, inputs, now,
                 "BX-202603-0001", entries={"installed_device": CUSTOMER_DEVICE}).case


def hand_out(definition: DefinitionSet, case: Case, now: datetime,
             loaner: dict[str, Any] | None) -> Any:
    return apply(definition, case, "provide_loaner", TECH,
                 {"loaner_unit": "LN-01", "loaner_return_by": "2026-03-20"}, now,
                 entries={"loaner_unit": loaner}, targets={"loaner_unit": loaner})


def test_regsteps_handing_out_a_loaner_carries_the_entry_change_in_the_outcome(
        default_set: DefinitionSet, now: datetime) -> None:
    outcome = hand_out(default_set, request(default_set, now), now, LOANER)
    changed = [e for e in outcome.events if e.kind == register_updates.EVENT]
    assert len(changed) == 1
    data = changed[0].data
    assert (data["register"], data["key"], data["case"], data["step"]) == (
        "loaner", "LN-01", "BX-202603-0001", "provide_loaner")
    assert dict(data["values"]) == {"status": "lent", "holder": "C-001",
                                    "expected_return": "2026-03-20"}


def test_regsteps_a_loaner_not_available_is_refused_with_the_definitions_words(
        default_set: DefinitionSet, now: datetime) -> None:
    with pytest.raises(Refused) as refused:
        hand_out(default_set, request(default_set, now), now, {
            **LOANER, "status": "lent", "holder": "C-002", "expected_return": date(2026, 3, 9)})
    reason = refused.value.reasons[0]
    assert (reason.code, reason.field) == ("entry", "loaner_unit")
    assert dict(reason.details)["message_zh-CN"].startswith("该备用机不在库")


def test_regsteps_without_the_entries_read_the_step_changes_no_register(
        default_set: DefinitionSet, now: datetime) -> None:
    case = request(default_set, now)
    outcome = apply(default_set, case, "provide_loaner", TECH,
                    {"loaner_serial": "LN-01"}, now)
    assert not [e for e in outcome.events if e.kind == register_updates.EVENT]
    assert "loaner_out" in outcome.case.flags


def test_regsteps_a_value_below_the_fields_minimum_is_refused_under_the_input_read(
        default_set: DefinitionSet, now: datetime) -> None:
    process = default_set.process("service_request")
    register = default_set.registers["spare_part"]
    effect = next(e for e in process.steps["complete_on_site"].effects
                  if e.kind == "update" and "stock_field" in e.expressions)
    part = {"part_no": "P-1", "name": "电源", "stock_field": 1, "stock_central": 0}
    with pytest.raises(register_updates.UpdateRefused) as refused:
        register_updates.update(process, register, effect, {"part_quantity": 2}, part, "P-1",
                                {"part_quantity": None}, now)
    assert refused.value.name == "part_quantity"
    assert (refused.value.facts["rule"], refused.value.facts["value"]) == ("minimum", "-1")
    after = register_updates.update(process, register, effect, {"part_quantity": 1}, part,
                                    "P-1", {"part_quantity": None}, now)
    assert after["stock_field"] == 0


@pytest.mark.parametrize(("start_on", "months", "ends"), [
    (date(2026, 3, 2), 12, date(2027, 3, 1)),
    (date(2026, 1, 31), 1, date(2026, 2, 27)),
    (date(2024, 2, 29), 12, date(2025, 2, 27)),
])
def test_regsteps_a_warranty_ends_the_day_before_its_months_are_up(
        start_on: date, months: int, ends: date) -> None:
    expression = compile_expression("acceptance_date | add_months(months) | add_days(-1)")
    assert expression.evaluate({"acceptance_date": start_on, "months": months}) == ends
    assert expression.evaluate({"acceptance_date": None, "months": months}) is None


def test_regsteps_date_filters_refuse_what_is_not_a_date_or_a_whole_number() -> None:
    with pytest.raises(EvaluationError):
        compile_expression("d | add_months('x')").evaluate({"d": date(2026, 1, 1)})
    with pytest.raises(EvaluationError):
        compile_expression("d | add_days(1)").evaluate({"d": "2026-01-01"})
