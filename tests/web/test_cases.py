"""The case screens as staff use them: inbox, intake, case page, step forms and refusals."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from qmsflow.engine.loader import load

from ..conftest import EditSet
from ..persistence import conftest as db
from ..persistence.conftest import PASSWORD, Clock, World, make_world
from .conftest import Auth, make_app, text_of

COMPLAINT_FILE = "processes/complaint.yaml"

INTAKE = {"channel": "phone", "received_at": "2026-03-02T09:30", "complainant_name": "王芳",
          "complainant_org": "市第一人民医院", "market": "domestic",
          "complainant_phone": "+86 21 5555 0100", "product_model": "MX-200",
          "batch_number": "B2026-02-031", "description": "监护仪屏幕在使用中间歇性闪烁",
          "patient_involved": "no"}

# The complaint's steps up to approval, as each role fills them in (web form values).
TO_APPROVAL: list[tuple[str, str, dict[str, Any]]] = [
    ("quality", "confirm_complaint", {"is_complaint": "yes", "screening_rationale": "设备故障"}),
    ("quality", "classify", {"category": "malfunction", "batch_number": "B2026-02-031"}),
    ("quality", "decide_reportability", {"report_cn": "not_reportable",
                                         "report_us": "not_reportable",
                                         "report_eu": "not_reportable",
                                         "reportability_rationale": "未造成伤害。",
                                         "password": PASSWORD}),
    ("gm_office", "accept", {"joint_inspection": "no"}),
    ("quality", "report_investigation", {"investigated": "yes", "findings": "背光板虚焊",
                                         "root_cause": "回流焊温度曲线偏低",
                                         "recall_needed": "no", "password": PASSWORD}),
    ("gm", "gm_instruct", {"gm_instructions": "同意调查结论。", "password": PASSWORD}),
    ("quality", "judge_responsibility", {"established": "yes", "responsible_department":
                                         "production", "cause": "production",
                                         "improvement_tracked": "no"}),
]


@dataclass
class Desk:
    """A person at the screen: signs in as a role and fills in forms."""

    client: FlaskClient
    auth: Auth
    world: World

    def as_(self, role: str, locale: str = "en") -> Desk:
        self.auth.logout()
        self.auth.login(role, locale=locale)
        return self

    def register(self, **changes: Any) -> str:
        self.as_("sales")
        data = {**INTAKE, **changes, "password": PASSWORD}
        response = self.client.post("/new/complaint/register", data=data)
        assert response.status_code == 303, text_of(response)
        return response.headers["Location"].rsplit("/", 1)[-1]

    def version(self, number: str) -> int:
        return self.world.service.read_case(number).case.row_version

    def act(self, number: str, step: str, data: dict[str, Any],
            version: int | None = None) -> TestResponse:
        form = {"row_version": str(self.version(number) if version is None else version),
                **data}
        return self.client.post(f"/cases/{number}/do/{step}", data=form)

    def take(self, number: str, steps: list[tuple[str, str, dict[str, Any]]]) -> None:
        for role, step, data in steps:
            response = self.as_(role).act(number, step, data)
            assert response.status_code == 303, (step, text_of(response))

    def to_approval(self, amount: str) -> str:
        number = self.register()
        self.take(number, [*TO_APPROVAL, ("technical", "propose_plan", {
            "countermeasure": "更换整批并赔偿停机损失", "handling": ["replace", "compensate"],
            "compensation_amount": amount})])
        return number


@pytest.fixture
def desk(client: FlaskClient, auth: Auth, world: World) -> Desk:
    return Desk(client, auth, world)


def test_a_complaint_filed_through_the_form_is_registered_signed_and_in_the_queue(
        desk: Desk, client: FlaskClient) -> None:
    number = desk.register()
    page = text_of(client.get(f"/cases/{number}"))
    assert f"{number} Customer complaint · Registered" in page
    assert "Sales User Authored Register complaint 2026-03-02 10:00 (Asia/Shanghai)" in page
    desk.as_("quality")
    inbox = text_of(client.get("/"))
    assert number in inbox and "市第一人民医院" in inbox and "MX-200" in inbox


def test_bad_intake_input_comes_back_with_everything_typed_and_a_message_per_field(
        desk: Desk, client: FlaskClient, world: World) -> None:
    desk.as_("sales")
    data = {**INTAKE, "complainant_name": "", "complainant_email": "not-an-address",
            "quantity": "-3", "password": PASSWORD}
    response = client.post("/new/complaint/register", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "市第一人民医院" in html and "监护仪屏幕在使用中间歇性闪烁" in html
    assert "not-an-address" in html
    assert len(re.findall(r'aria-invalid="true"', html)) >= 3
    assert world.service.list_cases(world.user("quality")).total == 0


def test_intake_errors_are_in_chinese_for_a_chinese_user(desk: Desk, client: FlaskClient
                                                         ) -> None:
    desk.as_("sales", locale="zh-CN")
    response = client.post("/new/complaint/register",
                           data={**INTAKE, "complainant_name": "", "password": PASSWORD})
    page = text_of(response)
    assert response.status_code == 422
    assert "部分字段需要修改，请查看下方提示。" in page
    assert "投诉人 * 该字段是必填字段。" in page


def test_a_wrong_signature_password_saves_nothing_and_says_why(desk: Desk, client: FlaskClient,
                                                               world: World) -> None:
    desk.as_("sales")
    response = client.post("/new/complaint/register",
                           data={**INTAKE, "password": "not my password"})
    assert response.status_code == 422
    assert "The password is wrong, so the signature was not given" in text_of(response)
    assert world.service.list_cases(world.user("quality")).total == 0


def test_the_case_page_explains_an_action_refused_for_lack_of_authority(
        desk: Desk, client: FlaskClient) -> None:
    number = desk.to_approval("80000")
    desk.as_("sales_manager")
    page = text_of(client.get(f"/cases/{number}"))
    assert "Approve the plan Needs" in page
    assert "amount 80,000 above your limit 5,000" in page
    response = desk.act(number, "approve_plan", {"password": PASSWORD})
    assert response.status_code == 422
    assert "amount 80,000 above your limit 5,000" in text_of(response)


def test_a_complaint_goes_from_intake_to_closure_with_signatures_in_its_history(
        desk: Desk, client: FlaskClient) -> None:
    number = desk.to_approval("3000")
    desk.take(number, [
        ("sales_manager", "approve_plan", {"password": PASSWORD}),
        ("sales", "record_reply", {"reply_method": "letter", "reply_summary": "已书面答复",
                                   "customer_accepts": "yes"}),
        ("quality_manager", "close", {"password": PASSWORD}),
    ])
    page = text_of(client.get(f"/cases/{number}"))
    assert "Customer complaint · Closed" in page
    # On the closed complaint only a follow-up report to an authority may still be opened.
    assert "Actions Open a follow-up or final report Status" in page or \
        "Actions Open a follow-up or final report" in page
    for meaning in ("Authored", "Approved", "Signed off and closed"):
        assert meaning in page
    assert "Compensation amount CNY 3,000.00" in page


def test_a_stale_form_is_refused_keeps_the_input_and_changes_nothing(
        desk: Desk, world: World) -> None:
    number = desk.register()
    stale = desk.version(number)
    desk.take(number, TO_APPROVAL[:1])
    before = world.service.read_case(number)
    response = desk.as_("quality").act(number, "decide_reportability", {
        **TO_APPROVAL[2][2], "reportability_rationale": "我写的理由"}, version=stale)
    assert response.status_code == 409
    assert "Someone else changed this case" in text_of(response)
    assert "我写的理由" in response.get_data(as_text=True)
    after = world.service.read_case(number)
    assert after.case == before.case and len(after.events) == len(before.events)


def test_a_post_with_a_field_the_form_does_not_have_is_refused(desk: Desk, world: World
                                                               ) -> None:
    number = desk.register()
    response = desk.as_("quality").act(number, "confirm_complaint", {
        **TO_APPROVAL[0][2], "compensation_amount": "1000000"})
    assert response.status_code == 400
    assert "fields it does not have (compensation_amount)" in text_of(response)
    assert world.service.read_case(number).case.state == "registered"


def test_a_value_outside_the_choices_is_refused_with_a_message(desk: Desk, world: World
                                                               ) -> None:
    number = desk.register()
    desk.take(number, TO_APPROVAL[:1])
    response = desk.as_("quality").act(number, "decide_reportability", {
        **TO_APPROVAL[2][2], "report_cn": "never"})
    assert response.status_code == 422
    assert world.service.read_case(number).case.state == "classification"


def test_a_role_without_the_step_is_refused_whatever_it_posts(desk: Desk, world: World) -> None:
    number = desk.register()
    response = desk.as_("gm_office").act(number, "confirm_complaint", TO_APPROVAL[0][2])
    assert response.status_code == 422
    assert "Needs the role Quality engineer, Quality manager." in text_of(response)
    assert world.service.read_case(number).case.state == "registered"


def test_the_inbox_links_each_case_number_to_its_page_and_badges_its_due_time(
        desk: Desk, client: FlaskClient) -> None:
    number = desk.register()
    desk.as_("quality")
    page = client.get("/").get_data(as_text=True)
    link = f'<a href="/cases/{number}">{number}</a></th>'
    assert f'<th scope="row" data-label="Number">{link}' in page
    assert '<span class="badge due' in page


def test_the_inbox_filters_searches_and_pages(desk: Desk, client: FlaskClient, world: World
                                              ) -> None:
    first = desk.register(complainant_org="Klinikum Nord")
    desk.register()
    desk.register()
    desk.as_("quality")
    assert first in text_of(client.get("/?q=klinikum"))
    assert text_of(client.get("/?q=klinikum")).count("KS-2026-03-") == 1
    assert "3 cases" in text_of(client.get("/"))
    desk.client.application.config["PER_PAGE"] = 2
    paged = text_of(client.get("/"))
    assert "Page 1 of 2" in paged
    assert "Page 2 of 2" in text_of(client.get("/?page=2"))
    by_state = text_of(client.get("/?process=complaint&state=closed"))
    assert "No cases match." in by_state


def test_overdue_and_soon_due_cases_are_highlighted(desk: Desk, client: FlaskClient,
                                                    world: World) -> None:
    number = desk.register()
    desk.take(number, TO_APPROVAL[:4])  # acceptance starts the closure clock
    desk.as_("quality")
    assert 'class="overdue"' not in client.get("/").get_data(as_text=True)
    world.clock.advance(days=30)
    desk.as_("quality")  # a month later: the session timed out long ago
    html = client.get("/").get_data(as_text=True)
    assert 'class="overdue"' in html
    assert "overdue" in text_of(client.get(f"/cases/{number}"))
    assert "overdue" in text_of(client.get("/?overdue=1"))


def test_the_case_page_shows_deadlines_with_working_time_left(desk: Desk, client: FlaskClient
                                                              ) -> None:
    number = desk.register()
    desk.take(number, TO_APPROVAL[:3])
    page = text_of(client.get(f"/cases/{number}"))
    assert "Deadlines" in page and "left" in page


def test_a_customer_who_does_not_accept_opens_a_linked_follow_up(desk: Desk,
                                                                 client: FlaskClient) -> None:
    number = desk.to_approval("3000")
    desk.take(number, [
        ("sales_manager", "approve_plan", {"password": PASSWORD}),
        ("sales", "record_reply", {"reply_method": "phone", "reply_summary": "客户不满意",
                                   "customer_accepts": "no"}),
        ("sales", "customer_not_accepting", {"password": PASSWORD}),
    ])
    page = text_of(client.get(f"/cases/{number}"))
    follow_up = re.search(r"Linked cases Relation Case State Deadline Followed up by "
                          r"Customer complaint (KS-\S+)", page)
    assert follow_up is not None
    assert f"Follow-up of Customer complaint {number}" in text_of(
        client.get(f"/cases/{follow_up.group(1)}"))
    assert "follow_up_of" not in page  # the relation's label, never its id


def test_linked_cases_are_named_by_the_relations_labels_in_chinese_and_on_the_printed_form(
        desk: Desk, client: FlaskClient) -> None:
    number = desk.to_approval("3000")
    desk.take(number, [
        ("sales_manager", "approve_plan", {"password": PASSWORD}),
        ("sales", "record_reply", {"reply_method": "phone", "reply_summary": "客户不满意",
                                   "customer_accepts": "no"}),
        ("sales", "customer_not_accepting", {"password": PASSWORD}),
    ])
    desk.as_("sales", locale="zh-CN")
    page = text_of(client.get(f"/cases/{number}"))
    assert "重新立案为 客户投诉 KS-" in page
    assert "已关联 重新立案为 KS-" in page  # the history names the link the same way
    desk.as_("sales")
    printed = text_of(client.get(f"/cases/{number}/print"))
    assert re.search(r"Linked cases Followed up by Customer complaint KS-\S+", printed)


def test_an_attached_file_is_stored_and_downloaded_but_a_program_is_refused(
        desk: Desk, client: FlaskClient) -> None:
    desk.as_("sales")
    refused = client.post("/new/complaint/register", data={
        **INTAKE, "password": PASSWORD, "evidence": (io.BytesIO(b"MZ..."), "tool.exe")})
    assert refused.status_code == 422
    assert "Files of this type are not accepted" in text_of(refused)
    assert "Choose your files again" in text_of(refused)
    response = client.post("/new/complaint/register", data={
        **INTAKE, "password": PASSWORD, "evidence": (io.BytesIO(b"%PDF-1.4 letter"),
                                                     "来函 letter.pdf")})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    link = re.search(r'href="(/files/[0-9a-f]{64}/[^"]+)"', page)
    assert link is not None
    assert "来函_letter.pdf" in text_of(client.get(response.headers["Location"]))
    download = client.get(link.group(1))
    assert download.data == b"%PDF-1.4 letter"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert "filename*=UTF-8''%E6%9D%A5%E5%87%BD_letter.pdf" in disposition  # the Chinese name
    assert download.headers["Cache-Control"] == "no-store"  # no copy left in the browser
    download.close()  # send_file streams the stored file


def test_only_the_processes_a_role_may_open_are_offered(desk: Desk, client: FlaskClient) -> None:
    desk.as_("finance")
    assert "Your roles do not open cases of any process." in text_of(client.get("/new"))
    assert client.get("/new/complaint/register").status_code == 403
    assert client.get("/new/complaint/nothing").status_code == 404
    assert client.get("/cases/KS-1999-01-0001").status_code == 404



def test_the_inbox_shows_new_notifications_until_they_are_marked_read(desk: Desk,
                                                                     client: FlaskClient) -> None:
    number = desk.register()
    desk.as_("quality", locale="zh-CN")
    page = text_of(client.get("/"))
    assert "1 条新通知" in page and f"{number} 待您处理：已登记" in page
    client.post("/notifications/read")
    assert "新通知" not in text_of(client.get("/"))


def test_waiting_for_the_customer_pauses_the_deadline_and_resuming_moves_it_by_the_wait(
        desk: Desk, client: FlaskClient, world: World) -> None:
    number = desk.register()
    desk.take(number, TO_APPROVAL[:4])  # investigation: the closure deadline runs
    due_before = world.service.read_case(number, history=False).case.clocks
    desk.take(number, [("quality", "wait_for_customer", {"waiting_reason": "寄回故障设备"})])
    page = text_of(client.get(f"/cases/{number}"))
    assert "paused" in page and "left" in page
    left_when_paused = world.service.read_case(number, history=False).case.clocks

    world.clock.advance(days=7)  # a week of waiting costs no working time
    desk.as_("quality")  # and ends the session: sign in again
    later = text_of(client.get(f"/cases/{number}"))
    assert re.findall(r"\d[^|]{0,30}? left", later) == re.findall(r"\d[^|]{0,30}? left", page)
    desk.take(number, [("quality", "customer_responded", {})])
    after = world.service.read_case(number, history=False).case.clocks
    for cid, clock in after.items():
        if left_when_paused[cid].status == "paused":
            assert clock.status == "running"
            assert clock.due_at > due_before[cid].due_at + timedelta(days=6)
    assert "running" in text_of(client.get(f"/cases/{number}"))


def test_the_case_page_offers_a_step_whose_condition_reads_its_inputs_and_the_form_says_why(
        desk: Desk) -> None:
    number = desk.register()
    desk.as_("quality", locale="zh-CN")
    page = desk.client.get(f"/cases/{number}")
    assert f'/cases/{number}/do/confirm_complaint"' in page.get_data(as_text=True)
    assert "is_complaint" not in text_of(page)
    form = html.unescape(text_of(desk.client.get(f"/cases/{number}/do/confirm_complaint")))
    # One sentence, not a frame wrapped in another ("…才能办理：需要：…").
    assert "仅当“是否属于投诉”不为“否”时，才能办理此步骤。" in form
    assert "需要" not in form and "：仅当" not in form
    sent = desk.act(number, "confirm_complaint", {"is_complaint": "no",
                                                  "screening_rationale": "只是咨询"})
    assert sent.status_code == 422
    shown = html.unescape(text_of(sent))
    assert "仅当“是否属于投诉”不为“否”时才能办理。" in shown
    assert "is_complaint != false" not in shown


def test_a_step_refused_by_a_condition_on_the_case_is_listed_with_words_not_the_expression(
        desk: Desk, client: FlaskClient) -> None:
    number = desk.to_approval("3000")
    desk.take(number, [
        ("sales_manager", "approve_plan", {"password": PASSWORD}),
        ("sales", "record_reply", {"reply_method": "letter", "reply_summary": "已书面答复",
                                   "customer_accepts": "no"}),
    ])
    desk.as_("quality_manager")
    page = html.unescape(text_of(client.get(f"/cases/{number}")))
    assert "Sign off and close Closing needs the customer's acceptance" in page
    assert "customer_accepts" not in page and "report_cn" not in page
    form = html.unescape(text_of(client.get(f"/cases/{number}/do/close")))
    assert "You cannot take this step now: Closing needs the customer's acceptance" in form
    assert "customer_accepts" not in form


@pytest.fixture
def defaults_client(sqlite_template: Path, tmp_path: Path, clock: Clock,
                    edited_set: EditSet) -> Iterator[tuple[FlaskClient, Auth]]:
    """The web app over a copy of the default set whose intake fields have defaults."""
    folder = edited_set(
        (COMPLAINT_FILE, "    label: {zh-CN: 投诉渠道, en: Channel}\n",
         "    label: {zh-CN: 投诉渠道, en: Channel}\n    default: phone\n"),
        (COMPLAINT_FILE, "    label: {zh-CN: 是否涉及患者, en: Patient involved}\n",
         "    label: {zh-CN: 是否涉及患者, en: Patient involved}\n    default: false\n"),
        (COMPLAINT_FILE, "    label: {zh-CN: 数量, en: Quantity}\n",
         "    label: {zh-CN: 数量, en: Quantity}\n    default: 1\n"),
        (COMPLAINT_FILE, "    label: {zh-CN: 批号, en: Batch / lot number}\n",
         "    label: {zh-CN: 批号, en: Batch / lot number}\n    default: B-DEFAULT\n"))
    definition = load(folder)
    database = db._sqlite(sqlite_template, tmp_path)
    world = make_world(database, definition, clock, root=folder)
    app = make_app(world, tmp_path, DEFINITIONS=str(folder))
    client = app.test_client()
    yield client, Auth(client, world)
    app.extensions["qmsflow"].close()
    database.engine.dispose()


def test_the_new_case_form_starts_from_the_fields_defaults(
        defaults_client: tuple[FlaskClient, Auth]) -> None:
    client, auth = defaults_client
    auth.login("sales")
    page = client.get("/new/complaint/register").get_data(as_text=True)
    assert re.search(r'<option selected value="phone">|<option value="phone" selected>', page)
    assert re.search(r'name="quantity"[^>]*value="1"|value="1"[^>]*name="quantity"', page)
    assert re.search(r'name="patient_involved"[^>]*value="no"[^>]*checked|'
                     r'checked[^>]*name="patient_involved"[^>]*value="no"', page)


def test_a_step_form_shows_the_cases_values_not_the_defaults(
        defaults_client: tuple[FlaskClient, Auth]) -> None:
    client, auth = defaults_client
    auth.login("sales")
    page = client.get("/new/complaint/register").get_data(as_text=True)
    assert 'value="B-DEFAULT"' in page
    sent = client.post("/new/complaint/register", data={**INTAKE, "password": PASSWORD})
    assert sent.status_code == 303, text_of(sent)
    number = sent.headers["Location"].rsplit("/", 1)[-1]
    auth.logout()
    auth.login("quality")
    confirmed = client.post(f"/cases/{number}/do/confirm_complaint", data={
        "row_version": "1", **TO_APPROVAL[0][2]})
    assert confirmed.status_code == 303, text_of(confirmed)
    # The classification form asks the batch again: it shows the case's, not the default.
    form = client.get(f"/cases/{number}/do/classify").get_data(as_text=True)
    assert 'value="B2026-02-031"' in form and "B-DEFAULT" not in form
