"""The customer's survey answer, stored: one transaction, audited as coming from the link."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from qmsflow.engine.cases import Case
from qmsflow.engine.machine import Refused
from qmsflow.engine.persistence import audit
from qmsflow.engine.persistence.models import OutboxMessage
from qmsflow.engine.persistence.store import Conflict

from ..engine.test_surveys import HAPPY, REQUEST
from .conftest import PASSWORD, World

UNHAPPY = {**HAPPY, "rating_promise": "dissatisfied",
           "satisfaction_comments": "答应的备件一直没有寄来。"}
CUSTOMER = "customer (survey link: satisfaction)"


def closed_job(world: World, **changes: Any) -> Case:
    """A service request fixed remotely, followed up by phone (rated 'fair' on skill, so not
    satisfied) and closed: the survey is sent."""
    service = world.service
    number = service.create_case("service_request", "report_fault",
                                 world.user("service_desk"), {**REQUEST, **changes}).number
    service.apply_step(number, "acknowledge", world.user("service_desk"), {})
    service.apply_step(number, "resolve_remotely", world.user("technical"), {
        "remote_solution": "电话指导恢复出厂参数。", "customer_accepted": True,
        "service_type": "free"}, password=PASSWORD)
    service.apply_step(number, "record_follow_up", world.user("service_desk"), {
        "follow_up_method": "phone", "rating_attitude": "satisfied", "rating_skill": "fair",
        "rating_arrival": "satisfied", "rating_promise": "satisfied"})
    return service.apply_step(number, "close", world.user("technical_manager"), {
        "service_type": "free", "is_complaint": False, "complaint_rationale": "远程解决。"},
        password=PASSWORD)


def outbox(world: World, template: str) -> list[OutboxMessage]:
    with world.database.sessions() as session:
        return list(session.execute(select(OutboxMessage).where(
            OutboxMessage.template == template).order_by(OutboxMessage.id)).scalars())


def test_closing_the_job_queues_the_invitation_with_the_signed_link(world: World) -> None:
    world.service.survey_link = lambda number, survey: f"https://qms.example/{survey}/{number}"
    case = closed_job(world)
    (invitation,) = outbox(world, "satisfaction_request")
    assert invitation.recipient == "liu.doctor@hospital.example.cn"
    assert f"https://qms.example/satisfaction/{case.number}" in invitation.body
    assert case.number in invitation.subject


def test_the_answer_lands_on_the_closed_case_with_audit_entries_from_the_link(
        world: World) -> None:
    case = closed_job(world)
    world.clock.advance(days=2)
    answered = world.service.answer_survey(case.number, "satisfaction", HAPPY,
                                           client="web 203.0.113.7")
    history = world.service.read_case(case.number)
    assert history.case == answered
    assert (answered.state, answered.closed_at) == ("closed", case.closed_at)
    assert answered.values["satisfied"] is True  # 'fair' on the phone, all satisfied by link
    assert answered.values["rating_skill"] == "very_satisfied"
    new = [e for e in history.events if e.at == world.clock.now]
    assert {e.action for e in new} >= {"survey_answered", "field_changed"}
    assert {(e.actor_id, e.actor_name, e.client) for e in new} == {
        (None, CUSTOMER, "web 203.0.113.7")}
    skill = next(e for e in new if e.field == "rating_skill")
    assert (skill.old, skill.new) == ("fair", "very_satisfied")
    with world.database.sessions() as session:
        assert audit.verify(session)[1] == []


def test_changing_signed_values_invalidates_the_closing_signature_and_says_who(
        world: World) -> None:
    case = closed_job(world)
    world.service.answer_survey(case.number, "satisfaction", HAPPY)
    history = world.service.read_case(case.number)
    closing = next(s for s in history.signatures if s.step == "close")
    assert closing.invalidated_at is not None
    assert CUSTOMER in (closing.invalidated_by or "")


def test_a_dissatisfied_answer_opens_a_linked_complaint_and_tells_the_deputy_gm(
        world: World) -> None:
    case = closed_job(world)
    answered = world.service.answer_survey(case.number, "satisfaction", UNHAPPY)
    assert "escalated_to_deputy_gm" in answered.flags
    assert answered.values["satisfied"] is False
    link = answered.links[-1]
    assert (link.relation, link.process) == ("raised_from:reverse", "complaint")
    complaint = world.service.read_case(link.number)
    assert complaint.case.state == "registered"
    assert complaint.case.values["description"] == UNHAPPY["satisfaction_comments"]
    assert complaint.case.values["complainant_name"] == "刘医生"
    assert {e.actor_name for e in complaint.events} == {CUSTOMER}
    told = outbox(world, "satisfaction_low")
    assert {m.user_id for m in told} >= {world.user("deputy_gm")}


def test_a_second_answer_is_refused_and_changes_nothing(world: World) -> None:
    case = closed_job(world)
    first = world.service.answer_survey(case.number, "satisfaction", HAPPY)
    with pytest.raises(Refused) as refused:
        world.service.answer_survey(case.number, "satisfaction", UNHAPPY)
    assert [r.code for r in refused.value.reasons] == ["answered"]
    assert world.service.read_case(case.number).case == first


def test_an_answer_after_14_days_is_refused(world: World) -> None:
    case = closed_job(world)
    world.clock.advance(days=14, seconds=1)
    with pytest.raises(Refused) as refused:
        world.service.answer_survey(case.number, "satisfaction", HAPPY)
    assert [r.code for r in refused.value.reasons] == ["expired"]
    assert world.service.read_case(case.number).case == case


def test_a_job_closed_without_an_e_mail_address_takes_no_answer(world: World) -> None:
    case = closed_job(world, contact_email=None)
    assert outbox(world, "satisfaction_request") == []
    with pytest.raises(Refused) as refused:
        world.service.answer_survey(case.number, "satisfaction", HAPPY)
    assert [r.code for r in refused.value.reasons] == ["not_sent"]


def test_a_voided_case_takes_no_answer(world: World) -> None:
    case = closed_job(world)
    world.service.void_case(case.number, world.user("quality_manager"), "重复登记")
    with pytest.raises(Refused) as refused:
        world.service.answer_survey(case.number, "satisfaction", HAPPY)
    assert [r.code for r in refused.value.reasons] == ["voided"]


def test_invalid_answers_are_refused_per_field(world: World) -> None:
    case = closed_job(world)
    with pytest.raises(Refused) as refused:
        world.service.answer_survey(case.number, "satisfaction",
                                    {**HAPPY, "rating_skill": None, "rating_arrival": "great"})
    assert {(r.code, r.field) for r in refused.value.reasons} == {
        ("missing", "rating_skill"), ("invalid", "rating_arrival")}
    assert world.service.read_case(case.number).case == case


def test_two_answers_sent_at_once_save_exactly_one(world: World) -> None:
    case = closed_job(world)
    barrier = threading.Barrier(2, timeout=30)

    def send(answer: dict[str, Any]) -> BaseException | None:
        barrier.wait()
        try:
            world.service.answer_survey(case.number, "satisfaction", answer)
        except (Conflict, Refused) as error:
            return error
        return None

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(send, [HAPPY, UNHAPPY]))
    assert sum(result is None for result in results) == 1
    history = world.service.read_case(case.number)
    assert [e.action for e in history.events].count("survey_answered") == 1
    assert [s.step for s in history.case.steps].count("survey:satisfaction") == 1
