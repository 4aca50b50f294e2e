"""In a real browser, in Chinese: picking a device that already has an open case shows the
warning beside the field at once, with a link to that case, before the form is sent; picking
another device takes it away."""

from __future__ import annotations

import pytest

from qmsflow.engine.persistence import registers

from ..persistence.conftest import World
from ..persistence.test_case_references import open_request, seed
from ..persistence.test_registers import DEVICE
from .conftest import Person

pytestmark = pytest.mark.slow


def test_regbits_picking_a_device_with_an_open_case_warns_beside_the_field_before_sending(
        person: Person, world: World) -> None:
    seed(world)
    with world.database.sessions.begin() as session:
        registers.create(session, world.definition, "installed_device",
                         {**DEVICE, "serial": "SN-0002"}, world.clock())
    earlier = open_request(world)  # SN-0001 was reported before and is still open
    page = person.sign_in("service_desk")
    page.goto("/new/service_request/report_fault")

    device = page.get_by_label("设备档案（序列号）")
    device.press_sequentially("sn-00")
    page.locator("datalist option[value='SN-0001']").wait_for(state="attached")
    assert page.locator("[data-live-open-cases]").count() == 0  # nothing picked yet
    device.fill("SN-0001")

    warning = page.locator("[data-live-open-cases='SN-0001']")
    warning.wait_for()
    assert "设备 SN-0001 已有未结案件" in warning.inner_text()
    link = warning.get_by_role("link", name=earlier.number)
    assert link.get_attribute("href") == f"/cases/{earlier.number}"
    # Beside the field it speaks of, and nothing was sent: the form is still the intake.
    assert page.url.endswith("/new/service_request/report_fault")
    assert device.evaluate(
        "input => input.parentNode.contains(document.querySelector('[data-live-open-cases]'))")

    device.fill("SN-0002")  # a device with no open case: the warning goes
    page.locator("[data-live-open-cases]").wait_for(state="detached")

    device.fill("SN-0001")
    warning.wait_for()
    link.click()
    page.wait_for_url(f"**/cases/{earlier.number}")
