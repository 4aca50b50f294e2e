"""Surveys: a step invites the customer, the customer's answer lands on the case once, in time."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from qmsflow.engine import cases
from qmsflow.engine.cases import Actor, Case, Signature
from qmsflow.engine.events import Outcome
from qmsflow.engine.machine import Refused, apply, open_linked, start
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.surveys import answer, as_step, respondent, sent_at

DESK = Actor("lin.jing", "林静", frozenset({"service_desk"}))
TECHNICAL = Actor("sun.hao", "孙浩", frozenset({"technical"}))
MANAGER = Actor("zhou.lei", "周磊", frozenset({"technical_manager"}))

REQUEST: dict[str, Any] = {
    "channel": "phone", "received_at": "2026-03-02T09:55:00+08:00",
    "customer_org": "市第一人民医院", "contact_name": "刘医生",
    "contact_phone": "+86 21 5555 0100", "contact_email": "liu.doctor@hospital.example.cn",
    "site_address": "上海市黄浦区示例路 1 号", "location_zone": "city",
    "product_model": "XR-200 输液泵", "serial_number": "SN26-00017",
    "description": "开机后屏幕提示参数配置错误，但仍可正常输液。",
    "emergency_equipment": False, "severity": "usable", "patient_involved": False,
}
PHONE_RATINGS = {"follow_up_method": "phone", "rating_attitude": "very_satisfied",
                 "rating_skill": "satisfied", "rating_arrival": "very_satisfied",
                 "rating_promise": "satisfied"}
HAPPY = {"rating_attitude": "very_satisfied", "rating_skill": "very_satisfied",
         "rating_arrival": "satisfied", "rating_promise": "very_satisfied",
         "satisfaction_comments": "工程师很专业。"}
UNHAPPY = {**HAPPY, "rating_arrival": "dissatisfied",
           "satisfaction_comments": "约定上午到，下午才到，且未提前告知。"}


def closed_job(definition: DefinitionSet, now: datetime,
               **changes: Any) -> tuple[Case, Outcome]:
    """A service request fixed remotely, followed up by phone and closed an hour after ``now``;
    the case and the closing step's outcome."""
    case = start(definition, "service_request", "report_fault", DESK, {**REQUEST, **changes},
                 now, "BX-202603-0001").case
    steps: list[tuple[str, Actor, dict[str, Any], Signature | None]] = [
        ("acknowledge", DESK, {}, None),
        ("resolve_remotely", TECHNICAL, {
            "remote_solution": "电话指导恢复出厂参数。", "customer_accepted": True,
            "service_type": "free"}, Signature(TECHNICAL.id, "authored", True)),
        ("record_follow_up", DESK, PHONE_RATINGS, None),
    ]
    for action, actor, inputs, signature in steps:
        case = apply(definition, case, action, actor, inputs, now, signature).case
    closing = apply(definition, case, "close", MANAGER, {
        "service_type": "free", "is_complaint": False, "complaint_rationale": "远程解决，非投诉。"},
        now + timedelta(hours=1), Signature(MANAGER.id, "closed", True))
    return closing.case, closing


def reasons(refused: pytest.ExceptionInfo[Refused]) -> dict[str, str | None]:
    return {reason.code: reason.field for reason in refused.value.reasons}


def test_the_survey_is_compiled_from_the_definitions_with_both_locales(
        default_set: DefinitionSet) -> None:
    survey = default_set.process("service_request").surveys["satisfaction"]
    assert set(survey.label) == {"zh-CN", "en"}
    assert (survey.form, survey.to, survey.template) == (
        "customer_survey", "field:contact_email", "satisfaction_request")
    assert (survey.valid_for.unit, survey.valid_for.amount) == ("calendar_days", Decimal(14))
    assert [i.field for i in survey.inputs if i.required is True] == [
        "rating_attitude", "rating_skill", "rating_arrival", "rating_promise"]
    assert {e.kind for e in survey.effects} == {"set", "flag", "notify", "open_case"}
    assert survey.step_id == "survey:satisfaction"
    assert set(default_set.process("complaint").surveys) == {"complaint_satisfaction"}


def test_closing_a_job_invites_the_customer_with_a_link_valid_for_14_days(
        default_set: DefinitionSet, now: datetime) -> None:
    case, closing = closed_job(default_set, now)
    invitation = [e for e in closing.events if e.kind == "notify" and "survey" in e.data]
    assert len(invitation) == 1
    data = invitation[0].data
    assert (data["template"], data["to"], data["survey"], data["step"]) == (
        "satisfaction_request", ("field:contact_email",), "satisfaction", "close")
    assert data["valid_until"] == now + timedelta(hours=1, days=14)
    assert sent_at(default_set, case, default_set.process("service_request").surveys[
        "satisfaction"]) == now + timedelta(hours=1)


def test_a_job_without_an_e_mail_address_sends_no_survey_and_takes_no_answer(
        default_set: DefinitionSet, now: datetime) -> None:
    case, closing = closed_job(default_set, now, contact_email=None)
    assert not [e for e in closing.events if "survey" in e.data]
    with pytest.raises(Refused) as refused:
        answer(default_set, case, "satisfaction", HAPPY, now + timedelta(days=1))
    assert reasons(refused) == {"not_sent": None}
    assert refused.value.step == "survey:satisfaction"


def test_an_answer_sets_the_ratings_and_the_kpi_on_the_closed_case_without_moving_it(
        default_set: DefinitionSet, now: datetime) -> None:
    case, _ = closed_job(default_set, now)
    later = now + timedelta(days=2)
    outcome = answer(default_set, case, "satisfaction",
                     {**HAPPY, "rating_skill": "fair"}, later)
    new = outcome.case
    assert (new.state, new.assignee_role, new.clocks, new.closed_at) == (
        case.state, case.assignee_role, case.clocks, case.closed_at)
    assert new.values["rating_skill"] == "fair"
    assert new.values["satisfied"] is False  # 'fair' is below satisfied: the KPI says so
    assert new.values["satisfaction_comments"] == "工程师很专业。"
    assert new.steps[-1] == cases.StepRecord("survey:satisfaction", "", later)
    assert (new.row_version, new.updated_at) == (case.row_version + 1, later)
    head = outcome.events[0]
    assert (head.kind, head.actor, dict(head.data)) == ("survey_answered", None, {
        "survey": "satisfaction", "sent_at": now + timedelta(hours=1),
        "valid_until": now + timedelta(hours=1, days=14)})
    changed = {e.data["field"]: (e.data["old"], e.data["new"]) for e in outcome.events
               if e.kind == "field_changed"}
    assert changed["rating_skill"] == ("satisfied", "fair")
    assert changed["satisfied"] == (True, False)
    assert "rating_attitude" not in changed  # very_satisfied on the phone and by link


def test_a_dissatisfied_rating_flags_tells_the_deputy_gm_and_opens_a_linked_complaint(
        default_set: DefinitionSet, now: datetime) -> None:
    case, _ = closed_job(default_set, now)
    later = now + timedelta(days=1)
    outcome = answer(default_set, case, "satisfaction", UNHAPPY, later)
    assert "escalated_to_deputy_gm" in outcome.case.flags
    assert outcome.case.values["satisfied"] is False
    told = [e for e in outcome.events if e.kind == "notify"]
    assert [(e.data["template"], e.data["to"]) for e in told] == [
        ("satisfaction_low", ("role:deputy_gm", "role:technical_manager"))]
    # Not an invitation: the outbox must not put a survey link in it.
    assert "survey" not in told[0].data and told[0].data["step"] == "survey:satisfaction"
    (opening,) = [e for e in outcome.events if e.kind == "open_case"]
    assert (opening.data["process"], opening.data["relation"], opening.data["from"]) == (
        "complaint", "raised_from", case.number)
    complaint, source = open_linked(default_set, outcome.case, opening, respondent(
        "satisfaction"), later, "KS-2026-03-0001")
    values = complaint.case.values
    assert (values["complainant_org"], values["complainant_email"], values["description"],
            values["product_model"]) == ("市第一人民医院", "liu.doctor@hospital.example.cn",
                                         UNHAPPY["satisfaction_comments"], "XR-200 输液泵")
    assert complaint.case.state == "registered"
    assert source.links[-1] == cases.Link("raised_from:reverse", "complaint", "KS-2026-03-0001")


def test_a_survey_is_answered_once(default_set: DefinitionSet, now: datetime) -> None:
    case, _ = closed_job(default_set, now)
    answered = answer(default_set, case, "satisfaction", HAPPY, now + timedelta(days=1)).case
    with pytest.raises(Refused) as refused:
        answer(default_set, answered, "satisfaction", UNHAPPY, now + timedelta(days=2))
    assert reasons(refused) == {"answered": None}
    assert "already answered" in str(refused.value)


def test_an_answer_after_the_link_expired_is_refused_and_one_at_the_limit_is_taken(
        default_set: DefinitionSet, now: datetime) -> None:
    case, _ = closed_job(default_set, now)
    limit = now + timedelta(hours=1, days=14)
    with pytest.raises(Refused) as refused:
        answer(default_set, case, "satisfaction", HAPPY, limit + timedelta(seconds=1))
    assert reasons(refused) == {"expired": None}
    assert answer(default_set, case, "satisfaction", HAPPY, limit).case.values["satisfied"]


def test_invalid_answers_are_refused_field_by_field_and_change_nothing(
        default_set: DefinitionSet, now: datetime) -> None:
    case, _ = closed_job(default_set, now)
    wrong = {"rating_attitude": "superb", "rating_skill": "satisfied",
             "rating_arrival": "satisfied", "gm_review_notes": "由客户填写"}
    with pytest.raises(Refused) as refused:
        answer(default_set, case, "satisfaction", wrong, now + timedelta(days=1))
    by_field = {(r.code, r.field) for r in refused.value.reasons}
    assert by_field == {("invalid", "rating_attitude"), ("missing", "rating_promise"),
                        ("unexpected", "gm_review_notes")}


def test_an_unknown_survey_is_refused_with_a_suggestion(
        default_set: DefinitionSet, now: datetime) -> None:
    case, _ = closed_job(default_set, now)
    with pytest.raises(Refused) as refused:
        answer(default_set, case, "satisfactoin", HAPPY, now + timedelta(days=1))
    assert reasons(refused) == {"unknown": None}
    assert "did you mean 'satisfaction'?" in str(refused.value)


def test_a_case_on_another_definition_version_is_refused(
        default_set: DefinitionSet, now: datetime) -> None:
    case, _ = closed_job(default_set, now)
    with pytest.raises(Refused) as refused:
        answer(default_set, replace(case, version="0" * 64), "satisfaction", HAPPY,
               now + timedelta(days=1))
    assert reasons(refused) == {"version": None}


def test_the_latest_sending_step_counts_and_its_condition_is_read_on_the_case(
        default_set: DefinitionSet, now: datetime) -> None:
    case, _ = closed_job(default_set, now)
    survey = default_set.process("service_request").surveys["satisfaction"]
    again = replace(case, steps=(*case.steps, cases.StepRecord("close", MANAGER.id,
                                                                now + timedelta(days=20))))
    assert sent_at(default_set, again, survey) == now + timedelta(days=20)
    assert answer(default_set, again, "satisfaction", HAPPY, now + timedelta(days=21)).case
    cleared = replace(case, values={**case.values, "contact_email": None})
    assert sent_at(default_set, cleared, survey) is None


def test_an_answered_case_saves_and_reloads_unchanged(
        default_set: DefinitionSet, now: datetime) -> None:
    case, _ = closed_job(default_set, now)
    answered = answer(default_set, case, "satisfaction", UNHAPPY, now + timedelta(days=1)).case
    assert cases.from_dict(default_set, cases.to_dict(default_set, answered)) == answered


def test_the_survey_as_a_step_asks_for_its_inputs_on_its_form(
        default_set: DefinitionSet) -> None:
    survey = default_set.process("service_request").surveys["satisfaction"]
    step = as_step(survey, "closed")
    assert (step.id, step.form, step.sources, step.target, step.roles) == (
        "survey:satisfaction", "customer_survey", ("closed",), "closed", ())
    assert step.inputs == survey.inputs


def test_an_answer_needs_an_aware_time(default_set: DefinitionSet, now: datetime) -> None:
    case, _ = closed_job(default_set, now)
    with pytest.raises(ValueError, match="aware"):
        answer(default_set, case, "satisfaction", HAPPY, now.replace(tzinfo=None))


def test_the_answer_replaces_what_staff_recorded_for_its_fields(
        default_set: DefinitionSet, now: datetime) -> None:
    case, _ = closed_job(default_set, now, contact_email="liu.doctor@hospital.example.cn")
    with_notes = replace(case, values={**case.values, "satisfaction_comments": "电话中表示满意。"})
    without = {k: v for k, v in HAPPY.items() if k != "satisfaction_comments"}
    answered = answer(default_set, with_notes, "satisfaction", without, now + timedelta(days=1))
    assert answered.case.values["satisfaction_comments"] is None


def test_the_respondent_has_no_account_no_role_and_says_it_came_by_link() -> None:
    who = respondent("satisfaction")
    assert (who.id, who.roles) == ("", frozenset())
    assert who.name == "customer (survey link: satisfaction)"
