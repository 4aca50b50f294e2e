"""A service request copies the hospital through the picked device's customer: the service
reads the device and the customer it belongs to, and the case keeps what it copied."""

from __future__ import annotations

from qmsflow.engine.persistence import audit, proof, registers
from qmsflow.engine.persistence.versions import Versions

from .conftest import World
from .test_case_references import REQUEST, open_request, seed

#: The intake with a device picked and neither hospital nor department typed.
UNTYPED = {key: None for key in ("customer_org", "hospital_department")}


def test_regbits_picking_a_device_copies_its_customers_hospital_and_department(
        world: World) -> None:
    seed(world)
    case = open_request(world, **UNTYPED)
    assert case.values["customer_org"] == "市第一人民医院"
    assert case.values["hospital_department"] == "ICU"
    assert case.values["contact_name"] == REQUEST["contact_name"]  # typed, not the file's
    stored = world.service.read_case(case.number, history=False).case
    assert stored.values["customer_org"] == "市第一人民医院"


def test_regbits_the_case_keeps_the_hospital_when_the_customer_is_renamed_later(
        world: World) -> None:
    seed(world)
    case = open_request(world, **UNTYPED)
    with world.database.sessions.begin() as session:
        entry = registers.get(session, world.definition, "customer", "C-0001")
        registers.update(session, world.definition, "customer", "C-0001",
                         {"hospital": "市第一人民医院东院"}, entry.row_version, world.clock())
    later = world.service.apply_step(case.number, "acknowledge", world.user("service_desk"),
                                     {})
    assert later.values["customer_org"] == "市第一人民医院"
    # A request opened now copies the customer as it is now.
    assert open_request(world, **UNTYPED).values["customer_org"] == "市第一人民医院东院"


def test_regbits_the_copied_hospital_is_audited_and_the_record_verifies_clean(
        world: World) -> None:
    seed(world)
    case = open_request(world, **UNTYPED)
    trail = world.service.read_case(case.number).events
    assert any(entry.field == "customer_org" and entry.new == "市第一人民医院"
               for entry in trail)
    world.service.seal_audit()
    with world.database.sessions() as session:
        count, breaks = audit.verify(session)
        differences = proof.check(session, Versions())
    assert count > 0 and breaks == [] and differences == []
