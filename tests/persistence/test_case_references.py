"""A case refers to a register entry: the service reads the entry, the case copies from it,
and every case naming the same entry is found for those who may read it."""

from __future__ import annotations

from typing import Any

import pytest

from qmsflow.engine.machine import Refused
from qmsflow.engine.persistence import registers

from .conftest import World
from .test_registers import CUSTOMER, DEVICE, PRODUCT

REQUEST: dict[str, Any] = {
    "channel": "phone", "received_at": "2026-03-02T09:55:00+08:00",
    "customer_org": "市第一人民医院", "contact_name": "刘医生",
    "contact_phone": "+86 21 5555 0100", "site_address": "上海市黄浦区示例路 1 号",
    "location_zone": "city", "installed_device": "SN-0001",
    "description": "开机后屏幕提示参数配置错误，但仍可正常输液。",
    "emergency_equipment": False, "severity": "usable", "patient_involved": False,
}


def seed(world: World, **device: str) -> None:
    with world.database.sessions.begin() as session:
        for register, values in (("product", PRODUCT), ("customer", CUSTOMER),
                                 ("installed_device", {**DEVICE, **device})):
            registers.create(session, world.definition, register, values, world.clock())


def open_request(world: World, **changes: Any) -> Any:
    return world.service.create_case("service_request", "report_fault",
                                     world.user("service_desk"), {**REQUEST, **changes})


def test_a_request_for_a_registered_device_copies_its_model_serial_and_warranty(
        world: World) -> None:
    seed(world)
    case = open_request(world)
    assert case.values["installed_device"] == "SN-0001"
    assert (case.values["serial_number"], case.values["product_model"]) == ("SN-0001", "MX-200")
    assert case.values["under_warranty"] is True


def test_a_device_out_of_warranty_on_the_day_of_the_request_is_recorded_so(
        world: World) -> None:
    seed(world, warranty_end="2026-03-01")
    assert open_request(world).values["under_warranty"] is False


def test_a_serial_not_in_the_register_is_refused_and_nothing_is_stored(world: World) -> None:
    seed(world)
    with pytest.raises(Refused) as refused:
        open_request(world, installed_device="SN-9999")
    assert [(r.code, r.field) for r in refused.value.reasons] == [
        ("no_entry", "installed_device")]
    assert world.service.referring("installed_device", "SN-9999",
                                   world.user("service_desk")) == []


def test_the_case_keeps_its_copies_when_the_register_changes_later(world: World) -> None:
    seed(world)
    case = open_request(world)
    with world.database.sessions.begin() as session:
        entry = registers.get(session, world.definition, "installed_device", "SN-0001")
        registers.update(session, world.definition, "installed_device", "SN-0001",
                         {"warranty_end": "2026-01-31"}, entry.row_version, world.clock())
    kept = world.service.read_case(case.number, history=False).case
    assert kept.values["under_warranty"] is True
    assert kept.values["installed_device"] == "SN-0001"


def test_every_case_naming_the_device_is_listed_oldest_first_and_open_ones_apart(
        world: World) -> None:
    seed(world)
    first = open_request(world)
    second = open_request(world)
    open_request(world, installed_device=None, product_model="MX-200",
                 serial_number="SN-0002")
    reader = world.user("service_desk")
    listed = world.service.referring("installed_device", "SN-0001", reader)
    assert [c.number for c in listed] == [first.number, second.number]
    assert len(world.service.referring("installed_device", "SN-0001", reader,
                                       open_only=True)) == 2


def test_the_history_lists_only_the_cases_the_reader_may_read(world: World) -> None:
    seed(world)
    open_request(world)
    # Finance reads no service request in the bundled set.
    assert world.service.referring("installed_device", "SN-0001", world.user("finance")) == []


def test_a_key_with_a_control_character_is_refused_and_finds_no_case(world: World) -> None:
    seed(world)
    with pytest.raises(Refused) as refused:
        open_request(world, installed_device="SN-0001\x00")
    assert ("invalid", "installed_device") in {(r.code, r.field) for r in refused.value.reasons}
    assert world.service.referring("installed_device", "SN-0001\x00",
                                   world.user("service_desk")) == []
