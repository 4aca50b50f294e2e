"""The case page in Chinese, in Chromium: the approver sees what they sign, a reply to the
customer is previewed before it goes, and a comment tells the colleague it mentions."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ..persistence.conftest import PASSWORD, World, open_complaint
from .conftest import Person

pytestmark = pytest.mark.slow

CASE_URL = re.compile(r"/cases/[A-Z]+-[0-9-]+(#.*)?$")

# A complaint from intake to its plan, a compensation of 3,000 (the department head's tier).
TO_PLAN: list[tuple[str, str, dict[str, Any], bool]] = [
    ("quality", "decide_reportability", {
        "report_cn": "not_reportable", "report_us": "not_reportable",
        "report_eu": "not_reportable", "reportability_rationale": "未造成伤害。"}, True),
    ("quality", "confirm_complaint", {"is_complaint": True, "screening_rationale": "设备故障"},
     False),
    ("quality", "classify", {"category": "malfunction"}, False),
    ("gm_office", "accept", {"joint_inspection": False}, False),
    ("quality", "report_investigation", {"investigated": True, "findings": "背光板虚焊",
                                         "root_cause": "回流焊温度曲线偏低",
                                         "recall_needed": False}, True),
    ("gm", "gm_instruct", {"gm_instructions": "同意调查结论。"}, True),
    ("quality", "judge_responsibility", {"established": True,
                                         "responsible_department": "production",
                                         "cause": "production", "improvement_tracked": False},
     False),
    ("technical", "propose_plan", {"countermeasure": "更换整批并赔偿停机损失",
                                   "handling": ["replace", "compensate"],
                                   "compensation_amount": 3000}, False),
]


def planned(world: World) -> str:
    """A complaint with the complainant's e-mail, its plan waiting for approval."""
    number = open_complaint(world, complainant_email="wang.fang@hospital.example.cn").number
    for role, action, inputs, sign in TO_PLAN:
        world.service.apply_step(number, action, world.user(role), inputs,
                                 password=PASSWORD if sign else None)
    return number


def test_the_approver_signs_seeing_the_amount_and_the_reply_is_previewed_before_it_goes(
        person: Person, page: Any, world: World) -> None:
    number = planned(world)

    # The department head opens the approval: what the signature covers is above the password.
    person.sign_in("sales_manager")
    page.goto(f"/cases/{number}")
    page.get_by_role("button", name="核准处理方案").click()
    preview = page.locator("section.sign-preview")
    assert "您签署的内容" in preview.inner_text()
    assert "补偿金额为 CNY 3,000.00" in preview.inner_text()
    assert "更换整批并赔偿停机损失" in preview.inner_text()  # the plan, changed since the GM signed
    page.get_by_role("group", name="电子签名").get_by_label("密码").fill(PASSWORD)
    page.locator("form[data-qmsflow-form] button[type=submit]").click()
    page.wait_for_url(CASE_URL)

    # Sales records a reply by letter: the e-mail to the complainant is shown first.
    person.as_("sales")
    page.goto(f"/cases/{number}")
    page.get_by_role("button", name="记录答复结果").click()
    page.get_by_label("答复方式").select_option(label="书信")
    page.get_by_label("答复内容").fill("经调查系背光板虚焊，已为您更换整批。")
    page.get_by_role("group", name="客户是否接受").get_by_label("是").check()
    page.get_by_role("button", name="预览消息").click()
    shown = page.locator("section.outgoing-preview")
    assert "客户将收到的内容" in shown.inner_text()
    assert "wang.fang@hospital.example.cn" in shown.inner_text()
    assert "经调查系背光板虚焊，已为您更换整批。" in shown.inner_text()
    assert world.service.read_case(number).case.state == "reply"  # nothing taken yet
    page.get_by_role("button", name="记录答复结果").click()
    page.wait_for_url(CASE_URL)
    assert world.service.read_case(number).case.state == "closing"


def test_a_comment_that_mentions_a_colleague_reaches_their_inbox(
        person: Person, page: Any, world: World) -> None:
    number = open_complaint(world).number
    person.sign_in("quality")
    page.goto(f"/cases/{number}")
    page.get_by_label("添加评论").fill(f"@{world.user('quality_manager')} 请复核分类依据。")
    page.get_by_role("button", name="添加评论").click()
    page.wait_for_url(CASE_URL)
    comments = page.locator("#comments").inner_text()
    assert "请复核分类依据。" in comments and "Quality_Manager User" in comments

    person.as_("quality_manager")
    page.goto("/")
    page.locator("details.notices summary").click()
    notice = page.get_by_role("link", name=f"Quality User 在 {number} 中提到了您")
    notice.click()
    page.wait_for_url(CASE_URL)
    assert "请复核分类依据。" in page.locator("#comments").inner_text()
