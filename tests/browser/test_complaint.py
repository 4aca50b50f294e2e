"""A complaint in a real browser, in Chinese: signing in, filing it, taking it to closure with
signatures, a refusal explained, printing and the keyboard alone."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ..persistence.conftest import PASSWORD, World, open_complaint
from .conftest import Person

CASE_URL = re.compile(r"/cases/KS-\d{4}-\d{2}-\d{4}$")

# The complaint's steps from registration to approval through the service, as each role takes
# them: the browser tests start where the interesting part begins.
TO_APPROVAL: list[tuple[str, str, dict[str, Any], str | None]] = [
    ("quality", "confirm_complaint", {"is_complaint": True, "screening_rationale": "设备故障"},
     None),
    ("quality", "classify", {"category": "malfunction", "batch_number": "B2026-02-031"}, None),
    ("quality", "decide_reportability", {"report_cn": "not_reportable",
                                         "report_us": "not_reportable",
                                         "report_eu": "not_reportable",
                                         "reportability_rationale": "未造成伤害。"}, PASSWORD),
    ("gm_office", "accept", {"joint_inspection": False}, None),
    ("quality", "report_investigation", {"investigated": True, "findings": "背光板虚焊",
                                         "root_cause": "回流焊温度曲线偏低",
                                         "recall_needed": False}, PASSWORD),
    ("gm", "gm_instruct", {"gm_instructions": "同意调查结论。"}, PASSWORD),
    ("quality", "judge_responsibility", {"established": True,
                                         "responsible_department": "production",
                                         "cause": "production", "improvement_tracked": False},
     None),
]


def to_approval(world: World, amount: str) -> str:
    """A complaint registered and taken to approval with ``amount`` of compensation."""
    number = open_complaint(world).number
    steps = [*TO_APPROVAL, ("technical", "propose_plan", {
        "countermeasure": "更换整批并赔偿停机损失", "handling": ["replace", "compensate"],
        "compensation_amount": amount}, None)]
    for role, action, inputs, password in steps:
        world.service.apply_step(number, action, world.user(role), inputs, password=password)
    return number


def text(page: Any, selector: str = "main") -> str:
    """What the user reads in ``selector``, whitespace collapsed."""
    return re.sub(r"\s+", " ", page.locator(selector).first.inner_text()).strip()


def state_shown(page: Any) -> str:
    """The state under the case page's title."""
    return page.locator("hgroup strong").inner_text()


def take_step(page: Any, number: str, step: str, password: str | None = None) -> None:
    """On the case page, open the step by its button, sign if asked, and send it."""
    page.goto(f"/cases/{number}")
    page.get_by_role("button", name=step).click()
    page.wait_for_url(re.compile(r"/do/"))
    if password is not None:
        page.get_by_role("group", name="电子签名").get_by_label("密码").fill(password)
    page.locator("form[data-qmsflow-form] button[type=submit]").click()
    page.wait_for_url(CASE_URL)


# The keys that type 2026-03-02 09:30 into a datetime-local input, by the order its segments
# take in the browser's own language (Debian's Chromium without chromium-l10n speaks en-US
# whatever the page's language; a Chinese one shows year/month/day and 24 hours).
DATETIME_KEYS = [
    ["03", "02", "2026", "ArrowRight", "09", "30", "a"],  # mm/dd/yyyy hh:mm AM
    ["2026", "ArrowRight", "03", "02", "09", "30"],  # yyyy/mm/dd hh:mm
]


def type_datetime(page: Any, field: str) -> None:
    """Types 2026-03-02 09:30 into the focused datetime-local input ``field``, keys only."""
    expected = "2026-03-02T09:30"
    for keys in DATETIME_KEYS:
        for key in keys:
            if key.isdigit():
                page.keyboard.type(key)
            else:
                page.keyboard.press(key)
        if page.locator(f"#{field}").input_value() == expected:
            return
        # Not this browser's order: start the field again from its first segment.
        page.locator(f"#{field}").evaluate("input => { input.value = ''; }")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")
    raise AssertionError(f"could not type {expected} into #{field} in any known order")


def test_a_user_signs_in_by_typing_id_and_password_and_pressing_enter(
        page: Any, world: World) -> None:
    page.goto("/")
    assert "/login" in page.url  # the inbox sends a stranger to sign in
    page.get_by_label("用户名").fill(world.user("quality_manager"))
    page.get_by_label("密码").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_role("button", name="退出").is_visible()
    assert "Quality_Manager User" in text(page, "header")


def test_a_wrong_password_keeps_the_user_on_the_sign_in_page_with_a_message(
        page: Any, world: World) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(world.user("sales"))
    page.get_by_label("密码").fill("not my password")
    page.keyboard.press("Enter")
    assert page.get_by_role("alert").inner_text() == (
        "用户名或密码错误。多次尝试失败后，登录将暂停一段时间；管理员可以提供帮助。")


@pytest.mark.slow
def test_a_complaint_filed_in_chinese_shows_the_patient_section_only_when_a_patient_is_involved(
        person: Person, page: Any) -> None:
    person.sign_in("sales")
    switch = page.get_by_label("语言")
    with page.expect_navigation():
        switch.select_option("en")
    assert page.get_by_role("link", name="New case").is_visible()
    with page.expect_navigation():
        page.get_by_label("Language").select_option(label="中文")
    assert page.locator("html").get_attribute("lang") == "zh-CN"

    page.get_by_role("link", name="新建案件").click()
    page.get_by_role("button", name="登记投诉").click()
    assert page.get_by_role("heading", name="登记投诉").is_visible()
    page.get_by_label("投诉渠道").select_option(label="电话")
    page.get_by_label("受理时间").fill("2026-03-02T09:30")
    page.get_by_role("textbox", name="投诉人", exact=True).fill("王芳")
    page.get_by_label("投诉单位").fill("市第一人民医院")
    page.get_by_label("联系电话").fill("+86 21 5555 0100")
    page.get_by_label("国内/国外").select_option(label="国内")
    page.get_by_label("产品型号").fill("MX-200")
    page.get_by_label("批号").fill("B2026-02-031")
    page.get_by_label("投诉内容").fill("监护仪屏幕在使用中间歇性闪烁")

    involved = page.get_by_role("group", name="是否涉及患者")
    patient = page.get_by_role("group", name="患者影响")
    harm = page.get_by_label("对患者的影响")
    assert patient.is_hidden()
    involved.get_by_label("是", exact=True).check()
    assert patient.is_visible() and harm.is_enabled()
    harm.select_option(label="无伤害")
    involved.get_by_label("否", exact=True).check()
    assert patient.is_hidden() and harm.is_disabled()

    signature = page.get_by_role("group", name="电子签名")
    assert "以 Sales User 的身份签署此步骤，签名含义：编制。" in signature.inner_text()
    signature.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登记投诉").click()
    page.wait_for_url(CASE_URL)
    assert state_shown(page) == "已登记"
    assert "客户投诉" in text(page, "hgroup")
    assert "市第一人民医院" in text(page) and "MX-200" in text(page)


@pytest.mark.slow
def test_a_complaint_is_approved_answered_and_closed_with_signatures_in_the_browser(
        person: Person, page: Any, world: World) -> None:
    number = to_approval(world, "3000")

    person.sign_in("sales_manager")
    take_step(page, number, "核准处理方案", password=PASSWORD)
    assert state_shown(page) == "答复客户"

    person.as_("sales")
    page.goto(f"/cases/{number}")
    page.get_by_role("button", name="记录答复结果").click()
    page.get_by_label("答复方式").select_option(label="书信")
    page.get_by_label("答复内容").fill("已书面答复客户，更换整批并补偿。")
    page.get_by_role("group", name="客户是否接受").get_by_label("是", exact=True).check()
    # A reply by letter also goes to the complainant: it is previewed before it is sent.
    page.get_by_role("button", name="预览消息").click()
    assert "客户将收到的内容" in page.locator("section.outgoing-preview").inner_text()
    page.get_by_role("button", name="记录答复结果").click()
    page.wait_for_url(CASE_URL)
    assert state_shown(page) == "待结案"

    person.as_("quality_manager")
    take_step(page, number, "核签结案", password=PASSWORD)
    assert state_shown(page) == "已结案"
    # On the closed complaint only a follow-up report to an authority may still be opened.
    actions = page.locator("section[aria-labelledby=actions-title]")
    assert actions.get_by_role("button").all_inner_texts() == ["新建补充/最终报告"]
    signatures = text(page, "section[aria-labelledby=signatures-title]")
    assert "Sales_Manager User" in signatures and "Quality_Manager User" in signatures
    assert world.service.read_case(number).case.state == "closed"


def test_a_signed_step_with_a_wrong_password_is_refused_and_the_case_does_not_move(
        person: Person, page: Any, world: World) -> None:
    number = to_approval(world, "3000")
    person.sign_in("sales_manager")
    page.goto(f"/cases/{number}")
    page.get_by_role("button", name="核准处理方案").click()
    page.get_by_role("group", name="电子签名").get_by_label("密码").fill("not my password")
    page.get_by_role("button", name="核准处理方案").click()
    assert "密码错误，签名未完成，未保存任何内容。" in page.get_by_role("alert").first.inner_text()
    assert world.service.read_case(number).case.state == "approval"


def test_the_sales_manager_reads_in_chinese_why_an_80000_plan_is_not_theirs_to_approve(
        person: Person, page: Any, world: World) -> None:
    number = to_approval(world, "80000")
    person.sign_in("sales_manager")
    page.goto(f"/cases/{number}")
    refused = page.locator(".actions-list li.refused", has_text="核准处理方案")
    assert refused.is_visible()
    assert page.get_by_role("button", name="核准处理方案").count() == 0
    why = refused.locator("small").all_inner_texts()
    wanted = r"需由.+核决：补偿金额 80,000 超出您的权限 5,000。"
    assert any(re.fullmatch(wanted, w) for w in why), why


def test_the_printable_form_prints_without_its_toolbar_and_downloads_as_a_pdf(
        person: Person, page: Any, world: World) -> None:
    number = to_approval(world, "3000")
    person.sign_in("quality")
    page.goto(f"/cases/{number}")
    page.get_by_role("link", name="打印表单").click()
    page.wait_for_url(re.compile(r"/print$"))
    assert page.get_by_role("heading", level=1).inner_text() == "客户抱怨处理表"
    copies = page.locator(".copy").first.locator(".copies").inner_text()
    assert "第一联 质量管理部存" in copies and "第三联 会计科存" in copies
    assert page.locator(".copy").nth(1).is_hidden()  # the screen shows one copy
    toolbar = page.locator(".print-toolbar")
    assert toolbar.is_visible()
    page.emulate_media(media="print")
    assert toolbar.is_hidden()
    # Paper gets every copy, each named at its top.
    assert page.locator(".copy").nth(2).is_visible()
    assert page.locator(".copy").nth(2).locator(".copy-label").inner_text() == "第三联 会计科存"
    assert page.get_by_role("heading", level=1).count() == 3  # one title per copy
    printed = page.pdf()  # what the browser's own print would make
    assert printed.startswith(b"%PDF")
    page.emulate_media(media="screen")

    with page.expect_download() as download:
        page.get_by_role("button", name="下载 PDF").click()
    assert download.value.suggested_filename == f"{number}.pdf"
    path = download.value.path()
    assert path is not None
    assert path.read_bytes().startswith(b"%PDF-")


@pytest.mark.slow
def test_the_intake_form_can_be_filled_and_sent_with_the_keyboard_alone(
        person: Person, page: Any) -> None:
    person.sign_in("sales")
    page.goto("/new/complaint/register")

    def focused() -> str:
        return str(page.evaluate("document.activeElement && document.activeElement.id"))

    def tab_to(field: str, limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if focused() == field:
                visible = page.evaluate("""() => {
                    const el = document.activeElement, style = getComputedStyle(el);
                    return el.matches(':focus-visible') &&
                        (style.outlineStyle !== 'none' || style.boxShadow !== 'none');
                }""")
                assert visible, f"no visible focus on #{field}"
                return
        raise AssertionError(f"Tab never reached #{field} (last: #{focused()})")

    tab_to("channel")
    page.keyboard.press("ArrowDown")  # the first choice, 电话
    tab_to("received_at")
    type_datetime(page, "received_at")
    tab_to("complainant_name")
    page.keyboard.type("王芳")
    tab_to("complainant_org")
    page.keyboard.type("市第一人民医院")
    tab_to("complainant_phone")
    page.keyboard.type("+86 21 5555 0100")
    tab_to("market")
    page.keyboard.press("ArrowDown")
    tab_to("product_model")
    page.keyboard.type("MX-200")
    tab_to("description")
    page.keyboard.type("监护仪屏幕在使用中间歇性闪烁")
    tab_to("patient_involved-0")
    page.keyboard.press("ArrowDown")  # from 是 to 否
    assert focused() == "patient_involved-1"
    tab_to("password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(CASE_URL)
    assert state_shown(page) == "已登记"
