"""Register entries in the database: created, changed, found and audited like cases."""

from __future__ import annotations

from typing import Any

import pytest

from qmsflow.engine.persistence import audit, proof, registers
from qmsflow.engine.persistence.audit import By
from qmsflow.engine.persistence.versions import Versions
from qmsflow.engine.registers import EntryInvalid

from .conftest import World

PRODUCT = {"model": "MX-200", "name": "多参数监护仪", "registration_no": "国械注准20263070001",
           "udi_di": "06901234567892", "risk_class": "class_2", "life_support": "yes"}
CUSTOMER = {"customer_no": "C-0001", "hospital": "市第一人民医院", "department": "ICU",
            "contact_name": "王芳", "contact_phone": "+86 21 5555 0100"}
DEVICE = {"serial": "SN-0001", "product": "MX-200", "customer": "C-0001",
          "install_date": "2026-01-10", "acceptance_date": "2026-01-15",
          "warranty_end": "2027-01-14", "contract_no": "HT-2026-001"}


def _by(world: World, role: str) -> By:
    return By(world.user(role), f"{role.title()} User")


def _create(world: World, register: str, values: dict[str, Any],
            role: str = "service_desk") -> registers.EntryRecord:
    with world.database.sessions.begin() as session:
        return registers.create(session, world.definition, register, values, world.clock(),
                                _by(world, role))


def register_device(world: World) -> registers.EntryRecord:
    """A product, a customer and a device of that product at that customer."""
    _create(world, "product", PRODUCT, "quality_manager")
    _create(world, "customer", CUSTOMER)
    return _create(world, "installed_device", DEVICE)


def test_a_registered_device_reads_back_with_typed_values(world: World) -> None:
    created = register_device(world)
    with world.database.sessions() as session:
        device = registers.get(session, world.definition, "installed_device", "SN-0001")
        product = registers.get(session, world.definition, "product", "MX-200")
    assert device == created
    assert device.values["acceptance_date"].isoformat() == "2026-01-15"
    assert device.row_version == 1
    assert product.values["life_support"] is True
    assert product.title == "多参数监护仪"


def test_a_device_is_found_by_part_of_its_serial_or_its_customer(world: World) -> None:
    register_device(world)
    with world.database.sessions() as session:
        by_serial = registers.search(session, world.definition, "installed_device", "sn-00")
        by_customer = registers.search(session, world.definition, "installed_device", "c-0001")
        nothing = registers.search(session, world.definition, "installed_device", "SN-9")
        wildcard = registers.search(session, world.definition, "installed_device", "%")
    assert [e.key for e in by_serial.entries] == ["SN-0001"] and by_serial.total == 1
    assert [e.key for e in by_customer.entries] == ["SN-0001"]
    assert nothing.total == 0 and wildcard.total == 0


def test_a_reference_to_no_entry_is_refused_and_nothing_is_written(world: World) -> None:
    with pytest.raises(EntryInvalid) as refused:
        _create(world, "installed_device", DEVICE)
    with world.database.sessions() as session:
        found = registers.search(session, world.definition, "installed_device")
    assert set(refused.value.problems) == {"product", "customer"}
    assert "'MX-200' is not an entry of Products" in refused.value.problems["product"]
    assert found.total == 0


def test_a_key_already_registered_is_refused(world: World) -> None:
    register_device(world)
    with pytest.raises(EntryInvalid) as refused:
        _create(world, "installed_device", DEVICE)
    assert "already registered" in refused.value.problems["serial"]


def test_every_field_that_does_not_fit_is_named_at_once(world: World) -> None:
    with pytest.raises(EntryInvalid) as refused:
        _create(world, "product", {**PRODUCT, "model": "", "risk_class": "class_9",
                                   "service_life_years": "200", "colour": "red"})
    assert set(refused.value.problems) == {"model", "risk_class", "service_life_years",
                                           "colour"}
    assert refused.value.problems["model"] == "this field is required"


def test_a_condition_makes_a_field_required(world: World) -> None:
    _create(world, "product", PRODUCT, "quality_manager")
    with pytest.raises(EntryInvalid) as refused:
        _create(world, "loaner", {"serial": "L-01", "product": "MX-200", "status": "lent"})
    assert set(refused.value.problems) == {"holder", "expected_return"}


def test_a_change_is_audited_with_old_and_new_values_and_the_reason(world: World) -> None:
    register_device(world)
    with world.database.sessions.begin() as session:
        changed = registers.update(session, world.definition, "installed_device", "SN-0001",
                                   {"warranty_end": "2028-01-14"}, 1, world.clock(),
                                   _by(world, "engineer"), reason="延保合同")
    with world.database.sessions() as session:
        trail = registers.history(session, world.definition, "installed_device", "SN-0001")
    assert changed.row_version == 2
    assert changed.values["contract_no"] == "HT-2026-001"  # untouched fields keep theirs
    assert trail[0].action == "entry_created"
    last = trail[-1]
    assert (last.field, last.old, last.new, last.reason, last.actor_id) == (
        "warranty_end", "2027-01-14", "2028-01-14", "延保合同", world.user("engineer"))
    assert [e.case_seq for e in trail] == list(range(1, len(trail) + 1))


def test_a_change_made_on_an_old_version_is_refused_and_loses_nothing(world: World) -> None:
    register_device(world)
    with world.database.sessions.begin() as session:
        registers.update(session, world.definition, "installed_device", "SN-0001",
                         {"contract_no": "HT-2026-002"}, 1, world.clock())
    with pytest.raises(registers.EntryConflict), world.database.sessions.begin() as session:
        registers.update(session, world.definition, "installed_device", "SN-0001",
                         {"contract_no": "HT-2026-003"}, 1, world.clock())
    with world.database.sessions() as session:
        device = registers.get(session, world.definition, "installed_device", "SN-0001")
    assert device.values["contract_no"] == "HT-2026-002" and device.row_version == 2


def test_the_key_of_an_entry_cannot_be_changed(world: World) -> None:
    register_device(world)
    with pytest.raises(EntryInvalid) as refused, world.database.sessions.begin() as session:
        registers.update(session, world.definition, "installed_device", "SN-0001",
                         {"serial": "SN-0002"}, 1, world.clock())
    assert "cannot be changed" in refused.value.problems["serial"]


def test_register_entries_verify_clean_through_chain_seals_and_proof(world: World) -> None:
    register_device(world)
    with world.database.sessions.begin() as session:
        registers.update(session, world.definition, "installed_device", "SN-0001",
                         {"warranty_end": "2028-01-14"}, 1, world.clock())
    world.service.seal_audit()
    with world.database.sessions() as session:
        count, breaks = audit.verify(session)
        differences = proof.check(session, Versions())
    assert count > 0 and breaks == [] and differences == []
