"""Steps change register entries: a loaner handed out from the pool and taken back, a spare
part's stock falling when a repair uses it; each change in the step's transaction, audited in
the entry's own trail with the case number, and refused in words (nothing written) when the
entry or its field rules do not allow it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from qmsflow.engine.machine import Refused
from qmsflow.engine.persistence import audit, registers

from .conftest import PASSWORD, World
from .test_case_references import open_request, seed

LOANER = {"serial": "LN-01", "product": "MX-200", "status": "available"}
PART = {"part_no": "P-PSU", "name": "电源模块", "fits_model": "MX-200", "stock_central": 12,
        "stock_field": 3}
REPAIR: dict[str, Any] = {
    "serial_verified": True, "work_performed": "更换电源模块", "test_data": "输出正常",
    "service_type": "free", "customer_accepted": True, "customer_signatory": "刘医生",
    "customer_signature": "signature.png",
}


def pool(world: World) -> None:
    seed(world)
    with world.database.sessions.begin() as session:
        registers.create(session, world.definition, "loaner", LOANER, world.clock())
        registers.create(session, world.definition, "spare_part", PART, world.clock())


def entry(world: World, register: str, key: str) -> registers.EntryRecord:
    with world.database.sessions() as session:
        return registers.get(session, world.definition, register, key)


def trail(world: World, register: str, key: str) -> list[Any]:
    with world.database.sessions() as session:
        return registers.history(session, world.definition, register, key)


def hand_out(world: World, number: str, **inputs: Any) -> Any:
    return world.service.apply_step(number, "provide_loaner", world.user("technical"), {
        "loaner_unit": "LN-01", "loaner_return_by": "2026-03-20", **inputs})


def on_site(world: World) -> str:
    """A request (device down) worked up to the engineer on site."""
    number = open_request(world, severity="unusable").number
    service = world.service
    service.apply_step(number, "acknowledge", world.user("service_desk"), {})
    service.apply_step(number, "escalate_on_site", world.user("technical"), {
        "remote_diagnosis": "电源故障", "fault_complexity": "minor"})
    service.apply_step(number, "dispatch_engineer", world.user("technical_manager"), {
        "assigned_engineer": world.user("engineer"), "planned_arrival": "2026-03-02T14:00:00+08:00",
        "customer_informed": True})
    service.apply_step(number, "arrive", world.user("engineer"), {})
    return number


def repair(world: World, number: str, **inputs: Any) -> Any:
    return world.service.apply_step(number, "complete_on_site", world.user("engineer"),
                                    {**REPAIR, **inputs}, password=PASSWORD)


def test_regsteps_a_loaner_handed_out_is_lent_to_the_customer_until_it_comes_back(
        world: World) -> None:
    pool(world)
    number = open_request(world, severity="unusable").number
    case = hand_out(world, number)
    assert case.values["loaner_serial"] == "LN-01"
    lent = entry(world, "loaner", "LN-01").values
    assert (lent["status"], lent["holder"], str(lent["expected_return"])) == (
        "lent", "C-0001", "2026-03-20")
    case = world.service.apply_step(number, "return_loaner", world.user("service_desk"), {})
    back = entry(world, "loaner", "LN-01").values
    assert back["status"] == "available"
    assert "holder" not in back and "expected_return" not in back
    assert case.values.get("loaner_unit") is None and case.values["loaner_serial"] == "LN-01"


def test_regsteps_a_loaner_named_and_updated_by_one_step_is_read_once_before_it(
        world: World) -> None:
    # The step names the unit (its copies) and updates it (its row version): one read before
    # the step serves both; the update reads it once more to write it, on that read's version.
    pool(world)
    number = open_request(world, severity="unusable").number
    reads: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "register_entries" in statement:
            reads.append(f"{' '.join(statement.split())[-120:]} {parameters}")

    event.listen(world.database.engine, "before_cursor_execute", record)
    try:
        hand_out(world, number)
    finally:
        event.remove(world.database.engine, "before_cursor_execute", record)
    loaner_reads = [read for read in reads if "LN-01" in read]
    assert len(loaner_reads) == 2, "\n".join(loaner_reads)
    assert entry(world, "loaner", "LN-01").values["status"] == "lent"


def test_regsteps_the_loaner_trail_names_the_case_each_change_came_from(world: World) -> None:
    pool(world)
    number = open_request(world, severity="unusable").number
    hand_out(world, number)
    changes = [event for event in trail(world, "loaner", "LN-01")
               if event.action == "field_changed" and event.field == "status"]
    assert [(e.old, e.new) for e in changes] == [(None, "available"), ("available", "lent")]
    assert changes[-1].data["case"] == number
    assert changes[-1].data["step"] == "provide_loaner"
    assert changes[-1].actor_name


def test_regsteps_a_loaner_already_lent_is_refused_in_words_and_nothing_is_written(
        world: World) -> None:
    pool(world)
    first = open_request(world, severity="unusable").number
    second = open_request(world, severity="unusable").number
    hand_out(world, first)
    with pytest.raises(Refused) as refused:
        hand_out(world, second)
    reasons = refused.value.reasons
    assert [(r.code, r.field) for r in reasons] == [("entry", "loaner_unit")]
    assert "not available" in reasons[0].message
    assert dict(reasons[0].details)["message_zh-CN"].startswith("该备用机不在库")
    assert entry(world, "loaner", "LN-01").values["holder"] == "C-0001"
    kept = world.service.read_case(second, history=False).case
    assert "loaner_out" not in kept.flags and kept.values.get("loaner_unit") is None


def test_regsteps_a_loaner_for_a_request_without_a_registered_customer_is_refused(
        world: World) -> None:
    pool(world)
    number = open_request(world, severity="unusable", installed_device=None,
                          product_model="MX-200", serial_number="SN-0009").number
    with pytest.raises(Refused) as refused:
        hand_out(world, number)
    reason = refused.value.reasons[0]
    assert (reason.code, reason.field) == ("entry", "loaner_unit")
    assert dict(reason.details)["field"] == "holder"
    assert entry(world, "loaner", "LN-01").values["status"] == "available"


def test_regsteps_a_loaner_not_in_the_pool_may_still_be_typed_by_serial(world: World) -> None:
    pool(world)
    number = open_request(world, severity="unusable").number
    case = world.service.apply_step(number, "provide_loaner", world.user("technical"),
                                    {"loaner_serial": "OLD-LOAN-7"})
    assert "loaner_out" in case.flags
    world.service.apply_step(number, "return_loaner", world.user("service_desk"), {})
    assert entry(world, "loaner", "LN-01").row_version == 1


def test_regsteps_a_repair_takes_the_part_used_from_the_stock_it_names(world: World) -> None:
    pool(world)
    number = on_site(world)
    repair(world, number, spare_part="P-PSU", part_quantity=2, part_location="field")
    part = entry(world, "spare_part", "P-PSU").values
    assert (part["stock_field"], part["stock_central"]) == (1, 12)
    moved = [e for e in trail(world, "spare_part", "P-PSU") if e.field == "stock_field"]
    assert [(e.old, e.new, e.data.get("case")) for e in moved] == [
        (None, 3, None), (3, 1, number)]


def test_regsteps_a_part_from_the_central_store_lowers_that_stock(world: World) -> None:
    pool(world)
    number = on_site(world)
    repair(world, number, spare_part="P-PSU", part_quantity=5, part_location="central")
    part = entry(world, "spare_part", "P-PSU").values
    assert (part["stock_field"], part["stock_central"]) == (3, 7)


def test_regsteps_more_parts_than_in_stock_are_refused_under_the_quantity_nothing_written(
        world: World) -> None:
    pool(world)
    number = on_site(world)
    with pytest.raises(Refused) as refused:
        repair(world, number, spare_part="P-PSU", part_quantity=4, part_location="field")
    reason = refused.value.reasons[0]
    assert (reason.code, reason.field) == ("entry", "part_quantity")
    facts = dict(reason.details)
    assert (facts["field"], facts["value"], facts["rule"], facts["min"]) == (
        "stock_field", "-1", "minimum", "0")
    assert entry(world, "spare_part", "P-PSU").values["stock_field"] == 3
    assert world.service.read_case(number, history=False).case.state == "on_site"


def test_regsteps_a_part_number_not_in_the_store_is_refused(world: World) -> None:
    pool(world)
    number = on_site(world)
    with pytest.raises(Refused) as refused:
        repair(world, number, spare_part="P-NONE", part_quantity=1)
    assert [(r.code, r.field) for r in refused.value.reasons] == [("no_entry", "spare_part")]


def test_regsteps_the_audit_trail_verifies_clean_after_entries_changed_by_steps(
        world: World) -> None:
    pool(world)
    number = on_site(world)
    hand_out(world, number)
    repair(world, number, spare_part="P-PSU", part_quantity=1)
    world.service.apply_step(number, "return_loaner", world.user("service_desk"), {})
    with world.database.sessions() as session:
        _, breaks = audit.verify(session)
    assert breaks == []


def install(world: World, **inputs: Any) -> Any:
    return world.service.create_case("installation", "record_installation",
                                     world.user("engineer"), {
                                         "installed_device": "SN-0001",
                                         "installed_on": "2026-02-20", **inputs})


def test_regsteps_an_installation_records_its_date_in_the_device_file(world: World) -> None:
    seed(world, acceptance_date="", warranty_end="")
    case = install(world)
    assert (case.values["serial_number"], case.values["contract_no"]) == (
        "SN-0001", "HT-2026-001")
    assert str(entry(world, "installed_device", "SN-0001").values["install_date"]) == (
        "2026-02-20")


def test_regsteps_the_acceptance_starts_the_warranty_for_the_contract_period(
        world: World) -> None:
    seed(world, acceptance_date="", warranty_end="")
    number = install(world).number
    case = world.service.apply_step(number, "record_acceptance", world.user("technical"), {
        "acceptance_date": "2026-03-02", "warranty_months": 24,
        "acceptance_certificate": "certificate.pdf"})
    assert case.state == "accepted" and str(case.values["warranty_end"]) == "2028-03-01"
    device = entry(world, "installed_device", "SN-0001").values
    assert (str(device["acceptance_date"]), str(device["warranty_end"])) == (
        "2026-03-02", "2028-03-01")
    # A service request opened afterwards reads the warranty the acceptance started.
    assert open_request(world).values["under_warranty"] is True
    ended = [e for e in trail(world, "installed_device", "SN-0001")
             if e.field == "warranty_end" and e.data.get("case") == number]
    assert [e.new for e in ended] == ["2028-03-01"]


def test_regsteps_an_acceptance_before_the_installation_is_refused_and_nothing_written(
        world: World) -> None:
    seed(world, acceptance_date="", warranty_end="")
    number = install(world).number
    with pytest.raises(Refused):
        world.service.apply_step(number, "record_acceptance", world.user("technical"), {
            "acceptance_date": "2026-02-01", "warranty_months": 12,
            "acceptance_certificate": "certificate.pdf"})
    assert "acceptance_date" not in entry(world, "installed_device", "SN-0001").values
