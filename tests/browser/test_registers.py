"""The installed base in a real browser, in Chinese: the service desk registers a device from
its acceptance certificate, then finds it again by its serial number."""

from __future__ import annotations

from typing import Any

from ..persistence.conftest import World
from ..web.test_registers import _seed
from .conftest import Person


def register_device(person: Person, world: World) -> Any:
    """The service desk registers device SN-7788 (accepted 2026-01-15, in warranty until
    2027-01-14) through the form, in Chinese; its page."""
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
    return page


def test_the_service_desk_registers_a_device_and_finds_it_by_its_serial(
        person: Person, world: World) -> None:
    page = register_device(person, world)
    assert "SN-7788" in page.locator("h1").inner_text()

    page.get_by_role("link", name="设备档案").click()
    page.get_by_label("搜索").fill("7788")
    page.get_by_label("搜索").press("Enter")
    row = page.locator("table.register tbody tr", has_text="SN-7788")
    assert "MX-200" in row.inner_text() and "2027-01-14" in row.inner_text()
    row.get_by_role("link", name="SN-7788").click()
    page.get_by_role("button", name="处理记录").click()
    assert "保修截止日期" in page.locator("table.register-history").inner_text()
