"""Regulatory reports on the screens: the complaint lists its report with its deadline, the
report says what its form still lacks in the reader's language, the form comes as a page, a
PDF and JSON, a generated PDF is kept with its hash and reason, and the complaint ends only
after the report is submitted."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

from flask.testing import FlaskClient

from ..persistence.conftest import PASSWORD, World
from .conftest import text_of
from .test_cases import Desk
from .test_cases import desk as desk  # the fixture

# Could have caused serious injury: judged reportable in China only (20 days from awareness).
POTENTIAL = {"patient_involved": "yes", "patient_harm": "potential",
             "event_place": "市第一人民医院 ICU"}
DECISION = {"report_cn": "reportable", "report_us": "not_reportable",
            "report_eu": "not_reportable", "reportability_rationale": "可能导致严重伤害。",
            "patient_harm": "potential", "group_event": "no",
            "password": PASSWORD}
FILLED = {"holder_name": "示例医疗器械有限公司", "holder_address": "上海市浦东新区示例路 1 号",
          "holder_contact": "赵敏", "holder_phone": "021-5555-0001", "device_name": "监护仪",
          "registration_number": "国械注准20263210001", "device_class": "class_ii",
          "event_date": "2026-03-01", "patient_outcome": "未造成伤害。",
          "relatedness": "possibly_related", "measures_taken": "同批次暂停发货。"}


def reported(desk: Desk, world: World) -> tuple[str, str]:
    """A complaint decided reportable in China, and the report it opened."""
    number = desk.register(**POTENTIAL)
    desk.take(number, [("quality", "decide_reportability", DECISION)])
    links = world.service.read_case(number).case.links
    assert [(link.relation, link.process) for link in links] == [
        ("report_of:reverse", "regulatory_report")]
    return number, links[0].number


def test_the_complaint_lists_its_report_with_the_deadline_from_awareness(
        desk: Desk, client: FlaskClient, world: World) -> None:
    number, report = reported(desk, world)
    desk.as_("quality", locale="zh-CN")
    page = text_of(client.get(f"/cases/{number}"))
    assert f"法规报告 法规报告 {report} 编制中 报告时限" in page
    # 20 calendar days from the time received (09:30 on 2 March), not from the decision.
    assert "2026-03-22 09:30" in page


def test_the_report_lists_what_its_form_lacks_in_the_readers_language(
        desk: Desk, client: FlaskClient, world: World) -> None:
    _, report = reported(desk, world)
    desk.as_("quality", locale="zh-CN")
    page = text_of(client.get(f"/cases/{report}"))
    assert "可疑医疗器械不良事件报告表" in page and "上报前须填写：" in page
    assert "注册证编号" in page and "控制措施" in page
    desk.as_("quality", locale="en")
    page = text_of(client.get(f"/cases/{report}"))
    assert "Before the report can be submitted, fill in:" in page
    assert "Registration certificate number" in page
    # The submission is refused, one reason per empty mandatory field.
    step = text_of(client.get(f"/cases/{report}/do/submit_report"))
    assert "Suspected medical device adverse event report (NMPA): Registration certificate " \
           "number is required before the report is submitted." in step


def test_the_form_is_printed_in_the_authoritys_language_and_exported_as_json(
        desk: Desk, client: FlaskClient, world: World) -> None:
    _, report = reported(desk, world)
    desk.as_("quality", locale="en")
    page = text_of(client.get(f"/cases/{report}/forms/nmpa_adverse_event"))
    assert "可疑医疗器械不良事件报告表" in page and "使用场所 * 市第一人民医院 ICU" in page
    assert "草稿：必填项尚未填写" in page  # the whole form in Chinese, even for an English reader
    exported = client.get(f"/cases/{report}/forms/nmpa_adverse_event.json")
    document = json.loads(exported.get_data(as_text=True))
    assert document["form"] == "nmpa_adverse_event" and document["case"] == report
    assert "registration_number" in document["missing"]
    event = next(s for s in document["sections"] if s["id"] == "event")
    place = next(f for f in event["fields"] if f["id"] == "place_of_use")
    assert place == {"id": "place_of_use", "label": {"zh-CN": "使用场所", "en": "Place of use"},
                     "mandatory": True, "from": "event_place", "value": "市第一人民医院 ICU"}
    assert "no import format" in document["standard"]["en"]
    pdf = client.get(f"/cases/{report}/forms/nmpa_adverse_event.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert client.get(f"/cases/{report}/forms/fda_3500a").status_code == 404


def test_a_generated_form_is_kept_with_its_hash_and_the_reason_in_the_trail(
        desk: Desk, client: FlaskClient, world: World, tmp_path: Path) -> None:
    _, report = reported(desk, world)
    desk.as_("quality", locale="en")
    refused = client.post(f"/cases/{report}/forms/nmpa_adverse_event/keep", data={"reason": ""})
    assert refused.status_code == 303
    assert world.service.read_case(report).case.values.get("generated_form") is None
    kept = client.post(f"/cases/{report}/forms/nmpa_adverse_event/keep",
                       data={"reason": "首次报告"}, follow_redirects=True)
    reference = world.service.read_case(report).case.values["generated_form"]
    digest, name = reference.split("/")
    assert name == f"{report}-nmpa_adverse_event.pdf"
    assert f"(SHA-256 {digest})" in text_of(kept)
    stored = next(Path(client.application.config["UPLOAD_FOLDER"]).rglob(digest))
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest
    trail = world.service.read_case(report).events
    assert [(e.field, e.new, e.reason) for e in trail if e.field == "generated_form"] == [
        ("generated_form", reference, "首次报告")]


def test_the_complaint_ends_only_after_its_report_is_submitted(
        desk: Desk, client: FlaskClient, world: World) -> None:
    number, report = reported(desk, world)
    desk.as_("quality_manager", locale="zh-CN")
    step = text_of(client.get(f"/cases/{number}/do/not_a_complaint"))
    assert f"关联案件 {report}（法规报告）尚未完成：完成之前本案件不能结案。" in step
    world.service.apply_step(report, "edit_report", world.user("quality"), FILLED)
    submitted = desk.as_("quality_manager").act(report, "submit_report", {
        "submitted_at": "2026-03-05T10:00", "submission_channel": "nmpa_system",
        "authority_report_number": "CN-AE-2026-000245", "password": PASSWORD,
        "submitted_file": (io.BytesIO(b"%PDF-1.4 submitted"), "上报回执.pdf")})
    assert submitted.status_code == 303, text_of(submitted)
    assert world.service.read_case(report).case.state == "submitted"
    closed = desk.act(number, "not_a_complaint", {
        "screening_rationale": "报警及时，属正常报警。", "reason": "设备按设计报警。",
        "password": PASSWORD})
    assert closed.status_code == 303, text_of(closed)
    assert world.service.read_case(number).case.state == "not_a_complaint"


def test_the_fda_and_eu_reports_are_filled_on_their_english_forms(
        desk: Desk, client: FlaskClient, world: World) -> None:
    number = desk.register(**POTENTIAL)
    desk.take(number, [("quality", "decide_reportability", {
        **DECISION, "report_cn": "not_reportable", "report_us": "reportable",
        "report_eu": "reportable"})])
    us, eu = (link.number for link in world.service.read_case(number).case.links)
    desk.as_("quality", locale="zh-CN")  # a Chinese reader: the forms stay in English
    fda = text_of(client.get(f"/cases/{us}/forms/fda_3500a"))
    assert "FDA MedWatch Form 3500A" in fda and "B5 Describe event or problem *" in fda
    assert "Draft: mandatory fields are empty" in fda and "D4 Model number" in fda
    mir = text_of(client.get(f"/cases/{eu}/forms/eu_mir"))
    assert "EU Manufacturer Incident Report (MIR 7.3.1)" in mir
    assert "Single registration number (SRN) *" in mir
    page = text_of(client.get(f"/cases/{eu}"))
    assert "单一注册号（SRN）" in page  # what is missing, in the reader's language
    assert client.get(f"/cases/{eu}/forms/eu_mir.pdf").data.startswith(b"%PDF")
