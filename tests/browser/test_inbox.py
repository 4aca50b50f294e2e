"""The inbox in a real browser, in Chinese: the clerk finds the complaint she registered after
it moved on to quality, and on a phone the list is a stack of cards."""

from __future__ import annotations

from typing import Any

from ..persistence.conftest import World, open_complaint
from .conftest import Person


def test_the_clerk_finds_her_complaint_after_it_moved_on_and_a_phone_shows_cards(
        person: Person, world: World, page: Any) -> None:
    number = open_complaint(world, description="监护仪屏幕在使用中间歇性闪烁").number
    world.service.apply_step(number, "confirm_complaint", world.user("quality"),
                             {"is_complaint": True, "screening_rationale": "设备故障"})
    person.sign_in("sales")
    page.get_by_role("searchbox").fill("闪烁")
    page.get_by_role("button", name="查询").click()
    # Her queues hold it no more: the page says what it searched and offers the rest.
    hint = page.locator("p.hint")
    assert "仅在“我的待办”中搜索。" in hint.inner_text()
    assert page.get_by_role("link", name=number).count() == 0
    hint.get_by_role("link", name="搜索我可查看的全部案件").click()
    found = page.get_by_role("link", name=number)
    found.wait_for()

    page.set_viewport_size({"width": 390, "height": 800})
    page.reload()
    row = page.locator("table.cards tbody tr").first
    assert row.evaluate("r => getComputedStyle(r).display") == "block"
    # A card is as wide as the screen allows (no one-character columns), headings hidden.
    assert row.bounding_box()["width"] > 300
    assert page.locator("table.cards thead").bounding_box()["width"] <= 1
    assert page.get_by_role("link", name=number).is_visible()
