"""Next month's scheduled visits in a real browser, in Chinese: a device registered from its
acceptance certificate shows up as a visit to open, and once the worker has opened it, as a
link to its case."""

from __future__ import annotations

from datetime import UTC, datetime

from qmsflow.engine.persistence import schedules

from ..persistence.conftest import World
from ..web.test_registers import _seed
from .conftest import Person


def test_the_service_desk_sees_next_months_visit_for_a_device_it_registered(
        person: Person, world: World) -> None:
    _seed(world)  # the product and the hospital the device refers to
    page = person.sign_in("service_desk")
    page.get_by_role("link", name="档案").click()
    page.get_by_role("link", name="设备档案").click()
    page.get_by_role("button", name="新登记").click()
    page.get_by_label("序列号").fill("SN-7788")
    page.get_by_label("产品型号").fill("MX-200")
    page.locator("input#customer").fill("C-0001")
    page.get_by_label("验收日期").fill("2026-01-15")
    page.get_by_label("保修截止日期").fill("2027-01-14")
    page.get_by_role("button", name="登记").click()
    page.get_by_text("已登记。").wait_for()

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
