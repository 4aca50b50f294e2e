"""Next month's scheduled visits in a real browser, in Chinese: a device registered from its
acceptance certificate shows up as a visit to open, and once the worker has opened it, as a
link to its case."""

from __future__ import annotations

from datetime import UTC, datetime

from qmsflow.engine.persistence import schedules

from ..persistence.conftest import World
from .conftest import Person
from .test_registers import register_device


def test_the_service_desk_sees_next_months_visit_for_a_device_it_registered(
        person: Person, world: World) -> None:
    page = register_device(person, world)

    # The world's clock says 2 March 2026: next month is April, three months after acceptance.
    page.get_by_role("link", name="计划工作").click()
    row = page.locator("table.scheduled-work tbody tr", has_text="SN-7788")
    assert "2026-04-15" in row.inner_text() and "定期上门回访" in row.inner_text()
    assert "待开立" in row.inner_text()

    world.clock.now = datetime(2026, 4, 15, 1, 0, tzinfo=UTC)
    number = schedules.run(world.service).opened[0].case_number or ""
    page = person.sign_in("service_desk")  # six weeks later: the session has ended
    page.goto("/scheduled?month=2026-04")
    row = page.locator("table.scheduled-work tbody tr", has_text="SN-7788")
    row.get_by_role("link", name=number).click()
    page.wait_for_url(f"**/cases/{number}")
    assert "SN-7788" in page.locator("main").inner_text()
