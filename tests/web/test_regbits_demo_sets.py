"""``qmsflow demo`` with each bundled definition set: the client set 'kangning' takes its
registers from the base it extends, so its demo brings entries of its own, and a service
request picking one of its devices copies the hospital through the device's customer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qmsflow.engine.loader import load
from qmsflow.engine.persistence import registers
from qmsflow.web.demo import DemoSummary, seed
from qmsflow.web.demo.entries import entries_file, read_entries
from qmsflow.web.runtime import Runtime

from ..conftest import DEFAULT_SET
from ..persistence.conftest import CHEAP

KANGNING = DEFAULT_SET.parent / "examples" / "kangning"
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 2 March 2026, 10:00 in Shanghai
SETS = [DEFAULT_SET, KANGNING]


@pytest.mark.parametrize("folder", SETS, ids=lambda folder: folder.name)
def test_regbits_every_bundled_set_has_demo_entries_for_every_register_it_declares(
        folder: Path) -> None:
    definition = load(folder)
    path = entries_file(folder, definition.id)
    assert path is not None, f"no demo-data/{definition.id}.yaml for {folder}"
    listed = {register for register, _values in read_entries(path, definition)}
    assert listed == set(definition.registers)


@pytest.fixture(scope="module")
def kangning(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, DemoSummary]]:
    """A demo database seeded from the kangning set."""
    path = tmp_path_factory.mktemp("kangning") / "demo.sqlite3"
    runtime = Runtime(f"sqlite:///{path}", KANGNING, clock=lambda: NOW, hasher=CHEAP)
    summary = seed(runtime, NOW, quiet=True, hasher=CHEAP)
    yield runtime, summary
    runtime.close()


@pytest.mark.slow
def test_regbits_the_kangning_demo_fills_its_registers_every_entry_stored(
        kangning: tuple[Runtime, DemoSummary]) -> None:
    runtime, summary = kangning
    definition = runtime.definition
    assert definition.id == "kangning"
    with runtime.sessions() as session:
        found = {register: registers.search(session, definition, register).total
                 for register in definition.registers}
    assert summary.entries == sum(found.values()) == 7
    assert found["installed_device"] == 2 and found["customer"] == 2


@pytest.mark.slow
def test_regbits_a_kangning_request_copies_the_hospital_of_the_devices_own_customer(
        kangning: tuple[Runtime, DemoSummary]) -> None:
    runtime, summary = kangning
    desk = next(user.id for user in summary.users if "service_desk" in user.roles)
    case = runtime.service.create_case("service_request", "report_fault", desk, {
        "channel": "phone", "received_at": "2026-03-02T09:55:00+08:00",
        "contact_name": "钱医生", "contact_phone": "+86 571 5555 0212",
        "site_address": "江州市文一路 12 号", "location_zone": "city",
        "installed_device": "KN-IP300-0002",
        "description": "泵门报警无法消除，输液中断，需要工程师到场。",
        "emergency_equipment": False, "severity": "usable", "patient_involved": False})
    assert (case.values["customer_org"], case.values["hospital_department"]) == (
        "江州市妇幼保健院", "新生儿科")
    assert case.values["under_warranty"] is False
