"""In Chinese, in a real browser: a new version's page reads forward from the served one, the
complaint's state diagram fits a 1280 px screen, and a case page highlights its state."""

from __future__ import annotations

import re
from typing import Any

from ..conftest import EditSet
from ..persistence.conftest import World
from ..persistence.test_versions import SHORTER_CLOSURE, accepted_complaint, publish
from .conftest import Person
from .test_complaint import text


def test_an_administrator_reads_a_new_version_forward_and_the_diagrams_fit_and_point_at_the_case(
        person: Person, page: Any, world: World, edited_set: EditSet) -> None:
    case = accepted_complaint(world)  # in investigation, its closure deadline running
    shorter = publish(world, edited_set(SHORTER_CLOSURE))
    person.sign_in("quality_manager")

    # The new version's page: from the served version to this one, in Chinese, with the open
    # case whose due time the shorter deadline moves.
    page.goto(f"/admin/versions/{shorter.version[:12]}")
    changes = text(page, "section.forward-changes")
    assert changes.startswith(f"从版本 {world.definition.version[:12]} 到本版本的变更")
    assert "期限“结案期限”：国内 5 个工作日 → 4 个工作日。 1 个未结案件的到期时间将改变" in changes
    assert "$." not in changes.split("全部差异")[0]
    assert page.get_by_role("button", name="迁移 1 个未结案件到本版本").is_visible()

    # The complaint's diagram, drawn top-down, fits the 1280 px window without scrolling it
    # sideways, and zooms.
    page.goto("/admin/processes/complaint")
    svg = page.locator("figure[data-diagram] svg")
    svg.wait_for()
    box = svg.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1280
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert box["height"] > box["width"]  # top-down
    page.get_by_role("button", name="放大").click()
    assert svg.bounding_box()["width"] > box["width"]
    page.get_by_role("button", name="适合宽度").click()
    assert svg.bounding_box()["width"] == box["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280

    # The case page: the diagram of its process, its current state highlighted and in view.
    page.goto(f"/cases/{case.number}")
    page.get_by_text("流程图（当前状态：调查中）").click()
    current = page.locator("figure[data-diagram] svg g.current")
    current.wait_for()
    assert current.locator("title").text_content() == "investigation"
    assert re.sub(r"\s+", "", current.text_content() or "") == "investigation调查中"
    assert page.locator("figure[data-diagram] svg g.node.current").count() == 1
    assert current.is_visible()
    frame = page.locator("figure[data-diagram]").bounding_box()
    spot = current.bounding_box()
    assert frame["y"] <= spot["y"] and spot["y"] + spot["height"] <= frame["y"] + frame["height"]
