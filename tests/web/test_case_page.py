"""The case page and step forms as people read them: names not account ids, the rule of each
deadline, what a signature covers, and no form for a step that cannot be taken."""

from __future__ import annotations

import html
import io
import re

from flask.testing import FlaskClient

from ..persistence.conftest import PASSWORD, World
from .conftest import text_of
from .test_cases import INTAKE, TO_APPROVAL, Desk, desk

__all__ = ["desk"]  # the fixture, used by name


def test_a_person_picked_in_a_user_field_is_shown_by_name_not_account_id(
        desk: Desk, client: FlaskClient, world: World) -> None:
    owner = world.user("technical")
    number = desk.register()
    desk.take(number, [*TO_APPROVAL, ("technical", "propose_plan", {
        "countermeasure": "更换", "handling": ["replace"], "compensation_amount": "3000",
        "plan_owner": owner})])
    page = text_of(client.get(f"/cases/{number}"))
    assert "Owner Technical User" in page
    assert f"Owner {owner}" not in page
    desk.as_("quality")  # printed too
    assert "Technical User" in text_of(client.get(f"/cases/{number}/print"))


def test_each_deadline_says_the_rule_it_runs_by_in_the_readers_language(
        desk: Desk, client: FlaskClient) -> None:
    number = desk.register()
    desk.as_("quality", locale="zh-CN")
    page = text_of(client.get(f"/cases/{number}"))
    assert "自“受理时间”起 4 个工作小时" in page
    desk.as_("quality")
    page = html.unescape(text_of(client.get(f"/cases/{number}")))
    assert "4 working hours from 'Received at'" in page


def test_a_step_the_user_cannot_take_shows_why_and_no_form_or_password_box(
        desk: Desk, client: FlaskClient) -> None:
    number = desk.to_approval("80000")
    desk.as_("sales_manager")
    response = client.get(f"/cases/{number}/do/approve_plan")
    page = response.get_data(as_text=True)
    assert "You cannot take this step now" in text_of(response)
    assert "amount 80,000 above your limit 5,000" in text_of(response)
    assert 'type="password"' not in page
    assert "<form" not in page.split("<main", 1)[-1]


def test_the_approver_sees_the_amount_and_why_it_routes_to_their_tier_before_signing(
        desk: Desk, client: FlaskClient) -> None:
    number = desk.to_approval("80000")
    desk.as_("gm")
    page = text_of(client.get(f"/cases/{number}/do/approve_plan"))
    assert "What you sign" in page
    assert "Compensation amount is CNY 80,000.00, above" in page
    assert "更换整批并赔偿停机损失" in page  # the plan being approved


def test_the_sign_page_lists_what_changed_since_the_last_signature(
        desk: Desk, client: FlaskClient) -> None:
    number = desk.to_approval("3000")
    desk.as_("sales_manager")
    page = text_of(client.get(f"/cases/{number}/do/approve_plan"))
    # The last signature was the GM's instruction; the plan came after it.
    changed = page.split("Changed since the last signature (Gm User, ", 1)[1]
    changed = changed.split("values this signature covers", 1)[0]
    assert "Compensation amount CNY 3,000.00" in changed
    assert "Countermeasures 更换整批并赔偿停机损失" in changed
    assert "Root cause" not in changed  # signed by the GM already
    assert desk.act(number, "approve_plan", {"password": PASSWORD}).status_code == 303


def test_the_history_names_an_attached_file_without_its_64_character_digest(
        desk: Desk, client: FlaskClient) -> None:
    desk.as_("sales")
    response = client.post("/new/complaint/register", data={
        **INTAKE, "password": PASSWORD, "evidence": (io.BytesIO(b"%PDF-1.4 letter"),
                                                     "letter.pdf")})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    history = page.split('class="history', 1)[1]
    assert "letter.pdf" in history
    assert not re.search(r"[0-9a-f]{64}", history)


def at_reply(desk: Desk) -> str:
    """A complaint with the complainant's e-mail, its plan approved: the reply is next."""
    number = desk.register(complainant_email="wang.fang@hospital.example.cn")
    desk.take(number, [*TO_APPROVAL, ("technical", "propose_plan", {
        "countermeasure": "更换整批", "handling": ["replace", "compensate"],
        "compensation_amount": "3000"}),
        ("sales_manager", "approve_plan", {"password": PASSWORD})])
    return number


def test_a_reply_to_the_customer_is_previewed_exactly_as_sent_before_it_goes(
        desk: Desk, client: FlaskClient, world: World) -> None:
    number = at_reply(desk)
    desk.as_("sales")
    form = client.get(f"/cases/{number}/do/record_reply").get_data(as_text=True)
    assert 'name="preview"' in form and 'name="submit"' not in form
    reply = {"reply_method": "letter", "reply_summary": "经调查系背光板虚焊，已为您更换整批。",
             "customer_accepts": "yes"}
    before = desk.version(number)
    shown = desk.act(number, "record_reply", {**reply, "preview": "1"})
    page = text_of(shown)
    assert shown.status_code == 200
    assert "What the customer will receive" in page
    assert "To: wang.fang@hospital.example.cn" in page
    assert "经调查系背光板虚焊，已为您更换整批。" in page
    assert desk.version(number) == before  # previewing saved nothing
    assert 'name="submit"' in shown.get_data(as_text=True)
    assert desk.act(number, "record_reply", reply).status_code == 303
    sent = [m for m in world.service.read_case(number).events if m.action == "notify"]
    assert sent  # the reply went to the outbox once taken


def test_a_preview_says_when_nothing_goes_to_the_customer(
        desk: Desk, client: FlaskClient) -> None:
    number = at_reply(desk)
    desk.as_("sales", locale="zh-CN")
    page = text_of(desk.act(number, "record_reply", {
        "reply_method": "phone", "reply_summary": "电话告知。", "customer_accepts": "yes",
        "preview": "1"}))
    assert "按目前填写的内容，不会向客户发送消息。" in page


def test_a_comment_with_a_mention_is_kept_in_the_record_and_tells_the_person(
        desk: Desk, client: FlaskClient, world: World) -> None:
    number = desk.register()
    desk.as_("quality", locale="zh-CN")
    response = client.post(f"/cases/{number}/comments",
                           data={"comment": "@quality.manager.user 请复核分类依据。"})
    assert response.status_code == 303
    page = text_of(client.get(f"/cases/{number}"))
    assert "请复核分类依据。" in page.split("评论", 1)[1]
    assert "Quality_Manager User" in page  # told, by name
    desk.as_("quality_manager", locale="zh-CN")
    inbox = text_of(client.get("/"))
    assert f"Quality User 在 {number} 中提到了您" in inbox


def test_an_empty_or_overlong_comment_comes_back_with_the_reason_and_the_text_kept(
        desk: Desk, client: FlaskClient) -> None:
    number = desk.register()
    desk.as_("quality")
    empty = client.post(f"/cases/{number}/comments", data={"comment": "  "})
    assert empty.status_code == 422
    assert "Write the comment first: it is empty." in text_of(empty)
    long = "很长的评论" * 1000
    refused = client.post(f"/cases/{number}/comments", data={"comment": long})
    assert refused.status_code == 422
    assert "A comment holds at most 4000 characters; this one has 5000" in text_of(refused)
    assert long in refused.get_data(as_text=True)  # nothing typed is lost


def test_someone_who_may_not_read_the_case_cannot_comment_on_it(
        desk: Desk, client: FlaskClient) -> None:
    number = desk.register()
    desk.as_("finance")  # reads closed complaints only
    assert client.post(f"/cases/{number}/comments",
                       data={"comment": "hello"}).status_code == 404
