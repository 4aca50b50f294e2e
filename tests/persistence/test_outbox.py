"""The notification outbox: written with the change that caused it, sent once, retried."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from qmsflow.engine.cases import Case
from qmsflow.engine.loader import load
from qmsflow.engine.machine import Refused
from qmsflow.engine.persistence import outbox
from qmsflow.engine.persistence.models import OutboxMessage, User

from ..conftest import EditSet
from .conftest import Clock, Database, World, make_world, open_complaint, to_investigation
from .report_cases import SERVICE_REQUEST, closed_complaint, closed_service_request


def messages(world: World, **where: object) -> list[OutboxMessage]:
    with world.database.sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(session.execute(query).scalars())


def give_emails(world: World) -> None:
    """Every staff account gets an address, the quality manager reads English."""
    with world.database.sessions.begin() as session:
        for user in session.execute(select(User)).scalars():
            user.email = f"{user.id}@example.com"
        session.execute(update(User).where(User.id == world.user("quality_manager"))
                        .values(locale="en"))


def test_a_new_complaint_acknowledges_the_complainant_in_chinese_with_its_number(
        world: World) -> None:
    case = open_complaint(world, complainant_email="wang.fang@hospital.example.cn")
    [ack] = messages(world, template="acknowledgement")
    assert (ack.channel, ack.recipient, ack.status) == ("email", "wang.fang@hospital.example.cn",
                                                        "pending")
    assert case.number in ack.subject and "您的反馈已受理" in ack.subject
    assert ack.body.startswith("王芳 您好")
    assert ack.case_number == case.number and ack.locale == "zh-CN"


def test_staff_without_an_address_are_told_on_their_inbox_and_with_one_by_mail_in_their_language(
        world: World) -> None:
    number = to_investigation(world)
    world.clock.advance(days=30)
    world.service.escalate_case(number)
    overdue = messages(world, template="overdue")
    assert {m.channel for m in overdue} == {"in_app"}
    assert world.user("quality_manager") in {m.user_id for m in overdue}

    give_emails(world)
    number = to_investigation(world)
    world.clock.advance(days=30)
    world.service.escalate_case(number)
    mailed = [m for m in messages(world, template="overdue", channel="email")
              if m.case_number == number]
    to_manager = next(m for m in mailed if m.user_id == world.user("quality_manager"))
    assert to_manager.recipient == f"{world.user('quality_manager')}@example.com"
    assert to_manager.subject == f"{number} is overdue" and to_manager.locale == "en"


def test_a_notice_that_names_its_reader_is_worded_for_each_reader_of_a_role(
        database: Database, clock: Clock, edited_set: EditSet) -> None:
    body = '"案件 {{ case.number }} 的期限 {{ clock.label }} 已于'  # the overdue notice's
    folder = edited_set(("notifications.yaml", body, '"{{ recipient }}：' + body[1:]))
    world = make_world(database, load(folder), clock, folder)
    number = to_investigation(world)
    world.clock.advance(days=30)
    world.service.escalate_case(number)
    overdue = messages(world, template="overdue")
    readers = {world.user("quality_manager"): "Quality_Manager User",
               world.user("gm_office"): "Gm_Office User"}
    assert {m.user_id for m in overdue} == set(readers)
    for message in overdue:
        assert message.body.startswith(f"{readers[message.user_id]}：案件 {number}")


def test_an_escalation_notifies_once_however_often_the_sweep_looks(world: World) -> None:
    number = to_investigation(world)
    world.clock.advance(days=30)
    world.service.escalate_case(number)
    before = len(messages(world))
    world.service.escalate_case(number)
    world.service.escalate_case(number)
    assert len(messages(world)) == before


def test_a_refused_step_leaves_no_notification_behind(world: World) -> None:
    number = open_complaint(world, complainant_email="a@b.example").number
    before = len(messages(world))
    with pytest.raises(Refused):
        world.service.apply_step(number, "confirm_complaint", world.user("sales"),
                                   {"is_complaint": True, "screening_rationale": "x"})
    assert len(messages(world)) == before


def test_a_customer_without_an_address_is_recorded_as_not_sent_with_the_reason(
        world: World) -> None:
    open_complaint(world)
    [ack] = messages(world, template="acknowledgement")
    assert ack.status == "failed"
    assert ack.last_error == "the field 'complainant_email' is empty: no address to send to"


def test_due_mail_is_sent_once_and_marked_with_a_stable_message_id(world: World) -> None:
    open_complaint(world, complainant_email="a@b.example")
    sent: list[outbox.Message] = []
    first = outbox.deliver(world.database.sessions, sent.append, world.clock)
    again = outbox.deliver(world.database.sessions, sent.append, world.clock)
    assert (first.sent, again.sent) == (1, 0)
    [message] = sent
    assert message.to == "a@b.example" and message.message_id.startswith("<outbox-")
    [row] = messages(world, channel="email")
    assert row.status == "sent" and row.sent_at == world.clock()


def test_a_failing_server_is_retried_with_growing_waits_then_given_up_with_the_error(
        world: World) -> None:
    open_complaint(world, complainant_email="a@b.example")

    def refuse(_message: outbox.Message) -> None:
        raise ConnectionRefusedError("connection refused")

    waits = []
    for _attempt in range(3):
        result = outbox.deliver(world.database.sessions, refuse, world.clock, max_attempts=3)
        [row] = messages(world, channel="email")
        if row.next_attempt_at is not None:
            waits.append(row.next_attempt_at - world.clock())
            world.clock.now = row.next_attempt_at
    assert waits == [timedelta(minutes=1), timedelta(minutes=2)]
    assert (result.failed, row.status, row.attempts) == (1, "failed", 3)
    assert row.last_error == "ConnectionRefusedError: connection refused"
    assert outbox.deliver(world.database.sessions, refuse, world.clock).failed == 0


def test_in_app_notifications_wait_unread_on_the_inbox_until_read(world: World) -> None:
    open_complaint(world)
    quality = world.user("quality")
    with world.database.sessions.begin() as session:
        rows, count = outbox.unread(session, quality)
        assert count == 1 and rows[0].template == "assignment"
        assert rows[0].subject == "KS-2026-03-0001 待您处理：已登记"
        assert outbox.mark_read(session, quality, None, world.clock()) == 1
    with world.database.sessions() as session:
        assert outbox.unread(session, quality) == ([], 0)


# SQLite has one writer at a time: there is nothing to race there.
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_two_workers_at_once_never_send_the_same_mail_twice(world: World) -> None:
    for index in range(20):
        open_complaint(world, complainant_email=f"c{index}@b.example")
    sent: list[int] = []
    lock = threading.Lock()

    def send(message: outbox.Message) -> None:
        with lock:
            sent.append(message.id)

    workers = [threading.Thread(target=outbox.deliver,
                                args=(world.database.sessions, send, world.clock))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(sent) == 20 and len(set(sent)) == 20


def test_a_reply_by_letter_goes_to_the_complainant_worded_as_recorded(world: World) -> None:
    number = closed_complaint(world, world.clock(), complainant_email="wang.fang@example.cn")
    [letter] = messages(world, template="reply_letter")
    assert (letter.recipient, letter.case_number) == ("wang.fang@example.cn", number)
    assert letter.subject == f"关于您的投诉（编号 {number}）的答复"
    assert "MX-200" in letter.body and "已答复。" in letter.body


def test_the_customers_visit_notice_names_the_engineer_not_their_account(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SERVICE_REQUEST, "contact_email", "liu@hospital.example.cn")
    engineer = world.user("engineer")
    closed_service_request(world, world.clock.now + timedelta(days=1), engineer=engineer)
    [visit] = [m for m in messages(world, template="visit_scheduled") if m.channel == "email"]
    assert "工程师 Engineer User 于" in visit.body
    assert engineer not in visit.body


def test_a_notice_to_the_creator_or_the_assignee_reaches_that_active_account_alone(
        world: World) -> None:
    case = open_complaint(world)  # opened by the sales user
    sales, quality = world.user("sales"), world.user("quality")
    staff = outbox.Staff.of([
        outbox.Addressee(sales, "Sales User", None, "zh-CN", frozenset({"sales"})),
        outbox.Addressee(quality, "Quality User", "q@example.cn", "en", frozenset({"quality"})),
    ])

    def to(targets: list[str], on: Case = case, among: outbox.Staff = staff
           ) -> list[tuple[str, str, str | None]]:
        return [(a.channel, a.recipient, a.user_id) for a in outbox.addresses(
            world.definition, on, targets, outbox.EMAIL, among)]

    assert to(["creator"]) == [("in_app", sales, sales)]  # no address: on their inbox
    assigned = replace(case, assignee=quality)
    assert to(["assignee"], assigned) == [("email", "q@example.cn", quality)]
    # An account that is not active (not among the staff) is not addressed.
    assert to(["creator", "assignee"], assigned, outbox.NOBODY) == []
