"""A quality manager edits the definitions in the browser, in Chinese: a typed mistake is
located as they type (marker and list), the fix clears it, and the draft is saved."""

from __future__ import annotations

import re

from qmsflow.engine.persistence import drafts

from ..persistence.conftest import World
from .conftest import Person


def test_a_typed_error_is_located_live_then_fixed_and_the_draft_saved(
        person: Person, world: World) -> None:
    page = person.sign_in("quality_manager")
    page.goto("/admin/drafts")
    page.get_by_label("标题（变更内容）").fill("投诉流程调整")
    page.get_by_role("button", name=re.compile("新建草稿")).click()
    page.wait_for_url(re.compile(r"/admin/drafts/\d+$"))
    draft_id = int(page.url.rsplit("/", 1)[1])
    problems = page.locator("[data-problem-list]")
    editor = page.locator(".cm-content")
    editor.wait_for()
    assert page.locator("[data-problem-count]").inner_text() == "有效。"

    editor.click()
    page.keyboard.press("Control+Home")
    page.keyboard.insert_text("labelz: 1\n")
    problems.get_by_text("set.yaml:1:1").wait_for()
    listed = problems.inner_text()
    # The whole problem in Chinese, the name typed kept as typed.
    assert "未知的键" in listed and "未知的键 'labelz'" in listed
    assert "是否想写 'label'？" in listed and "unexpected key" not in listed
    assert page.locator(".cm-lintRange-error").count() >= 1  # the marker in the text
    assert page.get_by_text("有未保存的修改").is_visible()

    page.keyboard.press("Control+Home")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Delete")
    page.locator("[data-problem-count]").get_by_text("有效。").wait_for()
    assert problems.inner_text() == ""

    page.get_by_role("button", name="保存", exact=True).click()
    page.get_by_text("已保存 set.yaml。").wait_for()
    with world.database.sessions() as session:
        saved = drafts.get(session, draft_id)
    assert "labelz" not in saved.files["set.yaml"]
    assert saved.files["set.yaml"].startswith("# yaml-language-server")
