"""A death in China reported to the NMPA in a real browser, in Chinese: the reportability
decision opens the report with its 7-day deadline from the awareness time, the report is
completed, its form downloaded and kept as a PDF, the submission recorded with its receipt, and
only then does the complaint close."""

from __future__ import annotations

import re
import zlib
from typing import Any

import pytest

from ..persistence.conftest import PASSWORD, World, open_complaint
from .conftest import Person
from .test_complaint import state_shown, take_step, text

REPORT_URL = re.compile(r"/cases/RR-\d{4}-\d{2}-\d{4}$")

# Steps taken through the service: (role, step, inputs, password if signed).
Steps = list[tuple[str, str, dict[str, Any], str | None]]

# A patient died in a Chinese hospital (received 09:30 on 2 March 2026, the awareness time).
DEATH = {"patient_involved": True, "patient_harm": "death", "market": "domestic",
         "event_date": "2026-03-01", "event_place": "市第一人民医院 ICU",
         "description": "监护仪未发出室颤报警，患者经抢救无效死亡。"}

# The complaint's steps around the decision (taken in the browser) through the service, as
# each role takes them, as far as the sign-off: a death is never screened out nor 'not
# established', so the complaint goes the whole normal way to 待结案.
BEFORE_DECISION: Steps = [
    ("quality", "confirm_complaint", {"is_complaint": True, "screening_rationale": "涉及患者死亡"},
     None),
    ("quality", "classify", {"category": "malfunction", "batch_number": "B2026-02-031"}, None),
]
AFTER_DECISION: Steps = [
    ("gm_office", "accept", {"joint_inspection": False}, None),
    ("quality", "report_investigation", {"investigated": True, "findings": "报警模块固件缺陷",
                                         "root_cause": "固件升级未做回归测试",
                                         "recall_needed": True}, PASSWORD),
    ("gm", "gm_instruct", {"gm_instructions": "同意调查结论，立即召回。"}, PASSWORD),
    ("quality", "judge_responsibility", {"established": True,
                                         "responsible_department": "technical",
                                         "cause": "design", "improvement_tracked": False}, None),
    ("technical", "propose_plan", {"countermeasure": "召回并升级固件", "handling": ["recall"],
                                   "handling_cost": "20000"}, None),
    ("deputy_gm", "approve_plan", {}, PASSWORD),
    ("sales", "record_reply", {"reply_method": "letter", "reply_summary": "已书面告知召回安排。",
                               "customer_accepts": True}, None),
]

# What the NMPA form still lacks once the complaint's facts are copied, in the form's labels,
# and the report's fields (edit_report's labels) that fill it.
MISSING = ["注册人/备案人名称", "联系地址", "报告人", "联系电话", "产品名称", "注册证编号",
           "管理类别", "伤害表现", "关联性评价", "控制措施"]
TYPED = {"注册人/备案人（制造商）名称": "示例医疗器械有限公司",
         "注册人/备案人地址": "上海市浦东新区示例路 1 号", "报告人（联系人）": "赵敏",
         "联系电话": "021-5555-0001", "产品名称": "多参数监护仪",
         "注册证编号": "国械注准20263210001",
         "伤害表现及患者结局": "室颤未报警，患者经抢救无效死亡。",
         "控制措施": "同批次暂停发货并召回，升级报警固件。"}
CHOSEN = {"管理类别": "第三类", "关联性评价": "可能有关"}


def pdf_titles(document: bytes) -> list[str]:
    """The titles a PDF made by WeasyPrint carries (its metadata and outline), as UTF-16 hex
    strings in its compressed object streams."""
    titles = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", document, re.S):
        try:
            data = zlib.decompress(stream)
        except zlib.error:
            continue
        titles += [bytes.fromhex(found.decode()).decode("utf-16")
                   for found in re.findall(rb"/Title\s*<([0-9a-fA-F]+)>", data)]
    return titles


def apply(world: World, number: str, steps: Steps) -> None:
    for role, action, inputs, password in steps:
        world.service.apply_step(number, action, world.user(role), inputs, password=password)


@pytest.mark.slow
def test_a_death_in_china_is_reported_to_the_nmpa_before_the_complaint_can_close(
        person: Person, page: Any, world: World) -> None:
    number = open_complaint(world, **DEATH).number
    apply(world, number, BEFORE_DECISION)

    # Quality decides, and signs, that the death is reportable in China only.
    person.sign_in("quality")
    page.goto(f"/cases/{number}")
    page.get_by_role("button", name="报告判定（签名）").click()
    page.wait_for_url(re.compile(r"/do/decide_reportability$"))
    assert page.get_by_label("对患者的影响").input_value() == "death"
    page.get_by_label("中国不良事件报告").select_option(label="须报告")
    page.get_by_label("美国 MDR 报告").select_option(label="无须报告")
    page.get_by_label("欧盟警戒报告").select_option(label="无须报告")
    page.get_by_label("报告判定依据").fill("境内使用中发生死亡，须向国家药监局报告。")
    page.get_by_role("group", name="电子签名").get_by_label("密码").fill(PASSWORD)
    page.locator("form[data-qmsflow-form] button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/cases/{number}$"))
    apply(world, number, AFTER_DECISION)
    assert world.service.read_case(number).case.state == "closing"

    # The complaint lists its report, being prepared, due 7 days after the awareness time
    # (09:30 on 2 March), not after the decision (10:00).
    page.goto(f"/cases/{number}")
    rows = page.locator("section[aria-labelledby=links-title] tbody tr")
    assert rows.count() == 1
    report = rows.get_by_role("link").inner_text()
    assert re.fullmatch(r"RR-2026-03-\d{4}", report)
    row = re.sub(r"\s+", " ", rows.inner_text()).strip()
    assert row.startswith(f"法规报告 法规报告 {report} 编制中 报告时限 · 2026-03-09 09:30"), row

    # Quality has the report to do, with the same deadline, in the inbox.
    page.goto("/")
    task = re.sub(r"\s+", " ", page.locator("tbody tr", has_text=report).inner_text()).strip()
    assert task == f"{report} 编制中 中国国家药监局（不良事件监测系统） 首次报告 2026-03-09 09:30"

    # From the inbox to the report, which says, in Chinese, what its NMPA form still lacks.
    page.locator("tbody tr", has_text=report).get_by_role("link", name=report).click()
    page.wait_for_url(REPORT_URL)
    assert state_shown(page) == "编制中"
    forms = page.locator("section[aria-labelledby=report-forms-title]")
    assert "可疑医疗器械不良事件报告表" in text(page, "section[aria-labelledby=report-forms-title]")
    assert forms.get_by_role("status").inner_text() == "上报前须填写："
    assert forms.locator("ul.missing-fields li").all_inner_texts() == MISSING

    # Quality fills the empty mandatory fields; what the complaint gave is there already.
    page.get_by_role("button", name="填写报告资料").click()
    page.wait_for_url(re.compile(r"/do/edit_report$"))
    assert page.get_by_label("型号规格").input_value() == "MX-200"
    assert page.get_by_label("使用场所").input_value() == "市第一人民医院 ICU"
    assert page.get_by_label("使用单位/事件来源").input_value() == "市第一人民医院"
    for name, value in TYPED.items():
        field = page.get_by_label(name, exact=True)
        assert field.input_value() == "", name
        field.fill(value)
    for name, choice in CHOSEN.items():
        page.get_by_label(name, exact=True).select_option(label=choice)
    page.locator("form[data-qmsflow-form] button[type=submit]").click()
    page.wait_for_url(REPORT_URL)
    assert forms.locator("ul.missing-fields").count() == 0
    assert forms.get_by_role("status").inner_text() == "报告表的必填项均已填写。"

    # The form in the authority's language, downloaded as a PDF ...
    forms.get_by_role("link", name="查看报告表").click()
    assert page.get_by_role("heading", level=1).inner_text() == "可疑医疗器械不良事件报告表"
    assert "国械注准20263210001" in text(page) and "草稿" not in text(page)
    page.go_back()
    with page.expect_download() as download:
        forms.get_by_role("link", name="下载 PDF").click()
    assert download.value.suggested_filename == f"{report}-nmpa_adverse_event.pdf"
    path = download.value.path()
    assert path is not None
    document = path.read_bytes()
    assert document.startswith(b"%PDF")
    assert any("可疑医疗器械不良事件报告表" in title for title in pdf_titles(document))

    # ... and generated again and kept in the record, with the reason.
    forms.get_by_label("理由").fill("首次报告")
    forms.get_by_role("button", name="生成 PDF 并存入记录").click()
    page.wait_for_url(REPORT_URL)
    kept = page.locator("main > p.flash.success").inner_text()
    digest = world.service.read_case(report).case.values["generated_form"].split("/")[0]
    assert kept == f"已生成可疑医疗器械不良事件报告表并存入记录（SHA-256 {digest}）。"

    # Until the report is submitted, the quality manager cannot close the complaint.
    person.as_("quality_manager")
    page.goto(f"/cases/{number}")
    refused = page.locator(".actions-list li.refused", has_text="核签结案")
    assert refused.is_visible()
    assert page.get_by_role("button", name="核签结案").count() == 0
    assert f"关联案件 {report}（法规报告）尚未完成：完成之前本案件不能结案。" in (
        refused.locator("small").all_inner_texts())

    # The quality manager records the submission, with the receipt, and signs it.
    page.goto(f"/cases/{report}")
    page.get_by_role("button", name="记录上报（签名）").click()
    page.wait_for_url(re.compile(r"/do/submit_report$"))
    page.get_by_label("上报时间").fill("2026-03-05T10:00")
    page.get_by_label("上报途径").select_option(label="国家医疗器械不良事件监测信息系统")
    page.get_by_label("监管部门报告编号").fill("CN-AE-2026-000245")
    page.get_by_label("上报文件").set_input_files(
        {"name": "回执.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 receipt"})
    page.get_by_role("group", name="电子签名").get_by_label("密码").fill(PASSWORD)
    page.locator("form[data-qmsflow-form] button[type=submit]").click()
    page.wait_for_url(REPORT_URL)
    assert state_shown(page) == "已上报"
    assert "CN-AE-2026-000245" in text(page) and "回执.pdf" in text(page)

    # Only now does the complaint close.
    page.goto(f"/cases/{number}")
    row = text(page, "section[aria-labelledby=links-title] tbody tr")
    assert row.startswith(f"法规报告 法规报告 {report} 已上报"), row
    take_step(page, number, "核签结案", password=PASSWORD)
    assert state_shown(page) == "已结案"
    assert world.service.read_case(number).case.state == "closed"
    assert world.service.read_case(report).case.state == "submitted"
