"""Accounts in a real browser, in Chinese: a user changes their password from the header and
signs in with the new one; an administrator adds a user with a role."""

from __future__ import annotations

import re
from typing import Any

from qmsflow.engine.persistence import users

from ..persistence.conftest import PASSWORD, World
from .conftest import Person

NEW = "amber kettle orbit"


def main_text(page: Any) -> str:
    return re.sub(r"\s+", " ", page.locator("main").inner_text()).strip()


def test_a_user_changes_their_password_and_an_administrator_adds_a_colleague(
        page: Any, person: Person, world: World) -> None:
    person.sign_in("sales")
    page.get_by_role("link", name=re.compile("账户")).click()
    page.wait_for_url(re.compile(r"/account/password$"))
    page.get_by_label("当前密码", exact=True).fill("not my password")
    page.get_by_label("新密码", exact=True).fill(NEW)
    page.get_by_label("再次输入新密码", exact=True).fill(NEW)
    page.get_by_role("button", name="修改密码").click()
    assert "当前密码不正确。" in main_text(page)
    assert page.get_by_label("新密码", exact=True).input_value() == ""  # nothing typed comes back

    page.get_by_label("当前密码", exact=True).fill(PASSWORD)
    page.get_by_label("新密码", exact=True).fill(NEW)
    page.get_by_label("再次输入新密码", exact=True).fill(NEW)
    page.get_by_role("button", name="修改密码").click()
    assert "您的密码已修改。" in main_text(page)
    person.sign_out()
    person.sign_in("sales", password=NEW)
    assert page.get_by_role("link", name=re.compile("账户")).count() == 1

    person.as_("quality_manager")
    page.get_by_role("link", name="系统管理").click()
    page.get_by_role("link", name="用户", exact=True).click()
    page.get_by_role("button", name="添加用户").click()
    page.get_by_label("用户名").fill("zhang.san")
    page.get_by_label("姓名").fill("张三")
    page.get_by_label("质量工程师 (quality)").check()
    page.get_by_label("临时密码").fill("violet harbour spoon")
    page.get_by_role("button", name="添加该用户").click()
    page.wait_for_url(re.compile(r"/admin/users/zhang\.san$"))
    shown = main_text(page)
    assert "账户 zhang.san 已添加。" in shown and "质量工程师" in shown and "临时密码" in shown
    with world.database.sessions() as session:
        added = users.get(session, "zhang.san")
    assert added.roles == ("quality",) and added.password_temporary
