"""A case field refers to a register entry: the case checks it exists and copies what it needs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from qmsflow.engine.cases import Actor, Signature
from qmsflow.engine.loader import check
from qmsflow.engine.machine import Refused, apply, start
from qmsflow.engine.model import DefinitionSet

from ..conftest import EditSet
from .test_surveys import REQUEST

DESK = Actor("lin.jing", "林静", frozenset({"service_desk"}))
SERVICE = "processes/service_request.yaml"
DEVICE = {"serial": "SN26-00017", "product": "XR-200", "customer": "C-001",
          "warranty_end": date(2026, 12, 31)}
PICKED = {key: value for key, value in REQUEST.items()
          if key not in ("product_model", "serial_number")} | {"installed_device": "SN26-00017"}


def opened(definition: DefinitionSet, now: datetime, inputs: dict[str, Any],
           entries: dict[str, Any] | None) -> Any:
    return start(definition, "service_request", "report_fault", DESK, inputs, now,
                 "BX-202603-0001", entries=entries).case


def test_the_service_request_refers_to_an_installed_device(default_set: DefinitionSet) -> None:
    spec = default_set.process("service_request").fields["installed_device"]
    assert spec.type == "register" and spec.register == "installed_device"
    assert set(spec.copies) == {"serial_number", "product_model", "under_warranty",
                                "customer_org", "hospital_department", "customer_no"}


def test_picking_a_device_copies_its_model_serial_and_warranty_into_the_case(
        default_set: DefinitionSet, now: datetime) -> None:
    case = opened(default_set, now, PICKED, {"installed_device": DEVICE})
    assert case.values["installed_device"] == "SN26-00017"
    assert case.values["serial_number"] == "SN26-00017"
    assert case.values["product_model"] == "XR-200"
    assert case.values["under_warranty"] is True


def test_a_device_whose_warranty_ended_before_the_case_is_out_of_warranty(
        default_set: DefinitionSet, now: datetime) -> None:
    expired = {**DEVICE, "warranty_end": date(2026, 3, 1)}
    assert opened(default_set, now, PICKED, {"installed_device": expired}
                  ).values["under_warranty"] is False
    unknown_end = {key: value for key, value in DEVICE.items() if key != "warranty_end"}
    assert opened(default_set, now, PICKED, {"installed_device": unknown_end}
                  ).values["under_warranty"] is False


def test_a_serial_the_register_does_not_hold_is_refused_on_its_field(
        default_set: DefinitionSet, now: datetime) -> None:
    with pytest.raises(Refused) as refused:
        opened(default_set, now, PICKED, {"installed_device": None})
    reason = next(r for r in refused.value.reasons if r.code == "no_entry")
    assert reason.field == "installed_device"
    assert dict(reason.details) == {"register": "installed_device", "key": "SN26-00017"}
    assert "register it there first" in reason.message


def test_without_a_device_the_model_and_serial_are_typed_and_required(
        default_set: DefinitionSet, now: datetime) -> None:
    assert opened(default_set, now, REQUEST, {}).values["product_model"] == "XR-200 输液泵"
    with pytest.raises(Refused) as refused:
        opened(default_set, now, {k: v for k, v in REQUEST.items() if k != "product_model"}, {})
    assert ("missing", "product_model") in {(r.code, r.field) for r in refused.value.reasons}


def test_the_case_keeps_what_it_copied_when_a_later_step_resends_the_same_device(
        default_set: DefinitionSet, now: datetime) -> None:
    case = opened(default_set, now, PICKED, {"installed_device": DEVICE})
    # The register changed since: a later step that names the same device copies nothing.
    changed = {**DEVICE, "product": "XR-300", "warranty_end": date(2020, 1, 1)}
    later = apply(default_set, case, "acknowledge", DESK, {}, now,
                  entries={"installed_device": changed}).case
    assert later.values["product_model"] == "XR-200"
    assert later.values["under_warranty"] is True


def test_a_copy_into_an_unknown_field_is_reported_with_a_suggestion(edited_set: EditSet) -> None:
    folder = edited_set((SERVICE, "      serial_number: serial\n",
                         "      serial_numbr: serial\n"))
    problem = next(p for p in check(folder) if p.code == "E201")
    assert problem.message == "unknown field 'serial_numbr'"
    assert problem.hint == "did you mean 'serial_number'?"
    assert problem.path.endswith(".copies.serial_numbr")
    assert problem.file.endswith("service_request.yaml") and problem.line > 0


def test_a_copy_reading_no_field_of_the_entry_is_reported(edited_set: EditSet) -> None:
    folder = edited_set((SERVICE, "warranty_end is not none", "warranty_ends is not none"))
    problem = next(p for p in check(folder) if p.code == "X302")
    assert "warranty_ends" in problem.message
    assert problem.hint == "did you mean 'warranty_end'?"


def test_a_copy_of_a_date_into_a_yes_no_field_is_refused_at_load(edited_set: EditSet) -> None:
    folder = edited_set((SERVICE, '      under_warranty: "warranty_end is not none and '
                                  'warranty_end >= today"\n',
                         "      under_warranty: warranty_end\n"))
    problem = next(p for p in check(folder) if p.code == "E250")
    assert "under_warranty" in problem.message and "warranty_end" in problem.message


def test_a_reference_to_an_unknown_register_is_reported(edited_set: EditSet) -> None:
    folder = edited_set((SERVICE, "    register: installed_device\n",
                         "    register: installed_devices\n"))
    problem = next(p for p in check(folder) if p.code == "E201")
    assert problem.message == "unknown register 'installed_devices'"
    assert problem.hint == "did you mean 'installed_device'?"


def test_copies_on_a_field_that_is_not_a_reference_are_refused(edited_set: EditSet) -> None:
    folder = edited_set((SERVICE, "    type: register\n    register: installed_device\n",
                         "    type: text\n"))
    assert "E207" in {p.code for p in check(folder)}


def test_a_free_service_on_a_device_out_of_warranty_is_flagged_and_in_warranty_is_not(
        default_set: DefinitionSet, now: datetime) -> None:
    technical = Actor("sun.hao", "孙浩", frozenset({"technical"}))
    fixed = {"remote_solution": "电话指导恢复出厂参数。", "customer_accepted": True,
             "service_type": "free"}
    flags = {}
    for name, end in (("expired", date(2026, 3, 1)), ("running", date(2026, 12, 31))):
        case = opened(default_set, now, PICKED,
                      {"installed_device": {**DEVICE, "warranty_end": end}})
        case = apply(default_set, case, "acknowledge", DESK, {}, now).case
        flags[name] = apply(default_set, case, "resolve_remotely", technical, fixed, now,
                            Signature(technical.id, "authored", True)).case.flags
    assert "free_outside_warranty" in flags["expired"]
    assert "free_outside_warranty" not in flags["running"]
