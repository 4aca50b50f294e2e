"""A case copies through a second register: the hospital of the customer the picked device
belongs to (``customer_org: customer.hospital``), checked at load and made once."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from qmsflow.engine.cases import Actor
from qmsflow.engine.loader import check
from qmsflow.engine.machine import Refused, apply, start
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.references import Referred, through_registers

from ..conftest import EditSet
from .test_surveys import REQUEST

DESK = Actor("lin.jing", "林静", frozenset({"service_desk"}))
SERVICE = "processes/service_request.yaml"
THROUGH = "      customer_org: customer.hospital\n"
DEVICE = {"serial": "SN26-00017", "product": "XR-200", "customer": "C-001",
          "warranty_end": date(2026, 12, 31)}
CUSTOMER = {"customer_no": "C-001", "hospital": "市第一人民医院", "department": "ICU",
            "contact_name": "刘医生"}
#: The intake with a device picked and nothing typed about the hospital.
PICKED = {key: value for key, value in REQUEST.items()
          if key not in ("product_model", "serial_number", "customer_org")
          } | {"installed_device": "SN26-00017"}


def opened(definition: DefinitionSet, now: datetime, inputs: dict[str, Any],
           entries: dict[str, Any]) -> Any:
    return start(definition, "service_request", "report_fault", DESK, inputs, now,
                 "BX-202603-0001", entries=entries).case


def test_regbits_the_service_request_copies_the_hospital_through_the_devices_customer(
        default_set: DefinitionSet) -> None:
    spec = default_set.process("service_request").fields["installed_device"]
    assert spec.through["customer_org"] == {"customer"}
    assert spec.through["hospital_department"] == {"customer"}
    assert "serial_number" not in spec.through
    assert through_registers(spec, default_set.registers) == {"customer": "customer"}


def test_regbits_picking_a_device_copies_its_customers_hospital_and_department(
        default_set: DefinitionSet, now: datetime) -> None:
    case = opened(default_set, now, PICKED,
                  {"installed_device": Referred(DEVICE, {"customer": CUSTOMER})})
    assert case.values["customer_org"] == "市第一人民医院"
    assert case.values["hospital_department"] == "ICU"
    assert case.values["product_model"] == "XR-200"
    # The contact is whoever reports the fault: typed, never taken from the customer file.
    assert case.values["contact_name"] == REQUEST["contact_name"]


def test_regbits_the_hospital_copied_replaces_what_was_typed_for_another_one(
        default_set: DefinitionSet, now: datetime) -> None:
    typed = {**PICKED, "customer_org": "别的医院", "hospital_department": "急诊科"}
    case = opened(default_set, now, typed,
                  {"installed_device": Referred(DEVICE, {"customer": CUSTOMER})})
    assert case.values["customer_org"] == "市第一人民医院"
    assert case.values["hospital_department"] == "ICU"


def test_regbits_a_device_whose_customer_is_gone_copies_no_hospital_so_it_must_be_typed(
        default_set: DefinitionSet, now: datetime) -> None:
    # Picked, the device makes the hospital optional; with no customer to copy from it stays
    # empty rather than keep a value from another entry.
    case = opened(default_set, now, PICKED,
                  {"installed_device": Referred(DEVICE, {"customer": None})})
    assert case.values.get("customer_org") is None
    assert case.values["product_model"] == "XR-200"


def test_regbits_without_a_device_the_hospital_is_typed_and_required(
        default_set: DefinitionSet, now: datetime) -> None:
    without = {key: value for key, value in REQUEST.items() if key != "customer_org"}
    with pytest.raises(Refused) as refused:
        opened(default_set, now, without, {})
    assert ("missing", "customer_org") in {(r.code, r.field) for r in refused.value.reasons}


def test_regbits_the_case_keeps_the_hospital_it_copied_when_the_customer_changes(
        default_set: DefinitionSet, now: datetime) -> None:
    case = opened(default_set, now, PICKED,
                  {"installed_device": Referred(DEVICE, {"customer": CUSTOMER})})
    renamed = {**CUSTOMER, "hospital": "市第一人民医院（新院区）"}
    later = apply(default_set, case, "acknowledge", DESK, {}, now, entries={
        "installed_device": Referred(DEVICE, {"customer": renamed})}).case
    assert later.values["customer_org"] == "市第一人民医院"


def test_regbits_a_copy_through_an_entry_the_caller_did_not_read_is_not_made(
        default_set: DefinitionSet, now: datetime) -> None:
    # A plain mapping carries no entries read through: the typed hospital stays.
    case = opened(default_set, now, {**PICKED, "customer_org": "市第一人民医院"},
                  {"installed_device": DEVICE})
    assert case.values["customer_org"] == "市第一人民医院"
    assert case.values["serial_number"] == "SN26-00017"


def problems_of(edited_set: EditSet, copy: str) -> list[Any]:
    return check(edited_set((SERVICE, THROUGH, copy)))


def test_regbits_a_field_the_second_register_lacks_is_reported_with_a_suggestion(
        edited_set: EditSet) -> None:
    problems = problems_of(edited_set, "      customer_org: customer.hospitl\n")
    assert [(p.code, p.message, p.hint) for p in problems] == [(
        "E201", "'customer.hospitl' reads 'customer.hospitl', but the register 'customer' "
                "has no field 'hospitl'", "did you mean 'hospital'?")]
    assert problems[0].path.endswith(".copies.customer_org")
    assert problems[0].file.endswith("service_request.yaml") and problems[0].line > 0


def test_regbits_a_dot_through_a_text_field_of_the_entry_is_reported(
        edited_set: EditSet) -> None:
    problems = problems_of(edited_set, "      customer_org: contract_no.hospital\n")
    assert [p.code for p in problems] == ["E207"]
    assert "'contract_no' is text, not a register field" in problems[0].message
    assert "customer.hospital" in str(problems[0].hint)


def test_regbits_a_date_field_of_the_entry_may_still_be_read_by_its_parts(
        edited_set: EditSet) -> None:
    assert check(edited_set((SERVICE, '"warranty_end is not none and warranty_end >= today"',
                             '"warranty_end.year >= 2027"'))) == []


def test_regbits_a_copy_two_registers_deep_is_reported(edited_set: EditSet) -> None:
    problems = check(edited_set(
        (SERVICE, THROUGH, "      customer_org: customer.hospital\n"),
        ("registers/customers.yaml", "  - id: department\n    type: text\n",
         "  - id: department\n    type: register\n    register: product\n")))
    assert problems == []  # one register deep is fine even when that field is a register
    problems = check(edited_set(
        (SERVICE, THROUGH, "      customer_org: customer.department.model\n"),
        ("registers/customers.yaml", "  - id: department\n    type: text\n",
         "  - id: department\n    type: register\n    register: product\n")))
    assert [p.code for p in problems] == ["E207"]
    assert "one register field, not further" in problems[0].message


def test_regbits_a_register_field_read_both_bare_and_through_in_one_copy_is_reported(
        edited_set: EditSet) -> None:
    problems = problems_of(edited_set,
                           "      customer_org: \"customer.hospital if customer else ''\"\n")
    assert [p.code for p in problems] == ["E207"]
    assert "both as its key and through it" in problems[0].message


def test_regbits_a_copied_hospital_must_fit_the_case_fields_type(edited_set: EditSet) -> None:
    problems = check(edited_set((SERVICE, THROUGH, "      under_warranty: customer.hospital\n"),
                                (SERVICE, '      under_warranty: "warranty_end is not none and '
                                          'warranty_end >= today"\n', "")))
    assert [p.code for p in problems] == ["E250"]
    assert "customer.hospital" in problems[0].message
