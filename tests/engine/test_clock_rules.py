"""Deadline rules: a clock counting from a field's time (``start_at``) and following its
correction, a variant re-chosen when the case is reclassified, a clock that outlives the case
(``runs_after_close``) or keeps it from closing (``blocks_close``), and time left told in working
days of the clock's own calendar.

The definitions under test are the small set in ``tests/fixtures/clocks``.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from qmsflow.engine import clocks as clock_ops
from qmsflow.engine.calendar import BusinessCalendar, CalendarSpec, WorkingWindow
from qmsflow.engine.cases import Actor, Case
from qmsflow.engine.escalation import escalate
from qmsflow.engine.loader import check, load
from qmsflow.engine.machine import Refused, apply, available, start
from qmsflow.engine.model import DefinitionSet

from ..fixtures.clock_set import FIXTURE, SHANGHAI, load_clock_set, shanghai

CLERK = Actor("clerk1", "Clerk One", frozenset({"clerk"}))
MANAGER = Actor("manager1", "Manager One", frozenset({"manager"}))


@pytest.fixture(scope="module")
def definition() -> DefinitionSet:
    return load_clock_set()


def register(definition: DefinitionSet, now: datetime, **values: Any) -> Case:
    inputs = {"title": "Infusion pump alarm", "received_at": "2026-03-02T09:30:00+08:00",
              **values}
    return start(definition, "incident", "create", CLERK, inputs, now, "IN-2026-0001").case


def closed(definition: DefinitionSet, case: Case, now: datetime) -> Case:
    reviewed = apply(definition, case, "finish_review", MANAGER, {}, now).case
    return apply(definition, reviewed, "close", MANAGER, {}, now).case


# -- start_at: counting from the time held in a field ------------------------------------------

def test_a_clock_with_start_at_counts_from_the_field_time_not_from_keying(
        definition: DefinitionSet) -> None:
    # Keyed at 14:00 for a call at 09:30: 8 working hours from 09:30 end at 10:30 next day.
    case = register(definition, shanghai(2, 14))
    response = case.clocks["response"]
    assert response.started_at == shanghai(2, 9, 30)
    assert response.due_at == shanghai(3, 10, 30)


def test_a_date_field_starts_the_clock_at_the_start_of_that_day_in_the_organisation_zone(
        definition: DefinitionSet) -> None:
    case = register(definition, shanghai(2, 14), aware_on="2026-03-01", outcome="injury")
    report = case.clocks["nmpa_report"]
    assert report.started_at == datetime(2026, 3, 1, tzinfo=SHANGHAI).astimezone(UTC)
    assert report.due_at == report.started_at + timedelta(days=20)


def test_a_start_at_clock_starts_only_when_its_field_first_has_a_value(
        definition: DefinitionSet) -> None:
    case = register(definition, shanghai(2, 14), received_at=None)
    assert "response" not in case.clocks
    later = apply(definition, case, "correct", CLERK,
                  {"received_at": "2026-03-02T15:00:00+08:00"}, shanghai(2, 16))
    assert later.case.clocks["response"].started_at == shanghai(2, 15)
    assert [e.kind for e in later.events if e.data.get("clock") == "response"] == [
        "clock_running"]


def test_correcting_the_start_field_moves_start_and_due_and_records_why(
        definition: DefinitionSet) -> None:
    case = register(definition, shanghai(2, 14))
    before = case.clocks["response"]
    outcome = apply(definition, case, "correct", CLERK,
                    {"received_at": "2026-03-02T09:00:00+08:00"}, shanghai(2, 15))
    after = outcome.case.clocks["response"]
    assert (after.started_at, after.due_at) == (shanghai(2, 9), shanghai(3, 10))
    [event] = [e for e in outcome.events if e.kind == "clock_changed"]
    assert event.data["clock"] == "response"
    assert event.data["reason"] == "field corrected"
    assert (event.data["old_started_at"], event.data["started_at"]) == (
        before.started_at, after.started_at)
    assert (event.data["old"], event.data["due_at"]) == (before.due_at, after.due_at)
    assert event.data["source_field"] == "received_at"


def test_a_correction_keeps_the_time_already_spent_paused(definition: DefinitionSet) -> None:
    case = register(definition, shanghai(2, 14))
    paused = replace(case, clocks={**case.clocks, "response": replace(
        case.clocks["response"], paused_hours=2.0)})
    moved = apply(definition, paused, "correct", CLERK,
                  {"received_at": "2026-03-02T09:00:00+08:00"}, shanghai(2, 15))
    response = moved.case.clocks["response"]
    assert response.paused_hours == 2.0
    # 09:00 + 8 working hours is Tuesday 10:00; the 2 hours paused end with the morning.
    assert response.due_at == shanghai(3, 12)


def test_a_correction_to_a_later_time_clears_a_breach_the_new_due_time_has_not_reached(
        definition: DefinitionSet) -> None:
    case = register(definition, shanghai(2, 14))
    breached = escalate(definition, case, shanghai(3, 11)).case
    assert breached.clocks["response"].breached and breached.clocks["response"].warned
    moved = apply(definition, breached, "correct", CLERK,
                  {"received_at": "2026-03-03T09:00:00+08:00"}, shanghai(3, 11, 30))
    response = moved.case.clocks["response"]
    assert response.due_at == shanghai(5, 10)  # Tuesday 7 h, Wednesday closed, Thursday 1 h
    assert not response.breached and not response.warned
    again = escalate(definition, moved.case, shanghai(5, 10))
    assert [e.kind for e in again.events if e.kind.startswith("clock_")] == [
        "clock_warning", "clock_breach"]


def test_a_stopped_clock_does_not_move_when_its_field_is_corrected(
        definition: DefinitionSet) -> None:
    case = register(definition, shanghai(2, 14))
    done = replace(case, clocks={**case.clocks, "response": clock_ops.stop(
        case.clocks["response"], shanghai(2, 15))})
    moved = apply(definition, done, "correct", CLERK,
                  {"received_at": "2026-03-02T09:00:00+08:00"}, shanghai(2, 16))
    assert moved.case.clocks["response"] == done.clocks["response"]


# -- the variant re-chosen when its inputs change ----------------------------------------------

def test_a_reclassified_case_takes_the_new_variant_from_the_same_start(
        definition: DefinitionSet) -> None:
    case = register(definition, shanghai(2, 14), aware_on="2026-03-01", outcome="injury")
    before = case.clocks["nmpa_report"]
    outcome = apply(definition, case, "correct", CLERK, {"outcome": "death"}, shanghai(3, 9))
    after = outcome.case.clocks["nmpa_report"]
    assert after.variant == "death" and after.started_at == before.started_at
    assert after.due_at == before.started_at + timedelta(days=7)
    [event] = [e for e in outcome.events if e.kind == "clock_changed"]
    assert (event.data["old_variant"], event.data["variant"]) == ("injury", "death")
    assert (event.data["old"], event.data["due_at"]) == (before.due_at, after.due_at)
    assert event.data["reason"] == "variant re-chosen"


def test_a_clock_no_variant_applies_to_any_more_stays_as_it_was_and_records_nothing(
        definition: DefinitionSet) -> None:
    case = register(definition, shanghai(2, 14), aware_on="2026-03-01", outcome="injury")
    outcome = apply(definition, case, "correct", CLERK, {"outcome": "none"}, shanghai(3, 9))
    assert outcome.case.clocks["nmpa_report"] == case.clocks["nmpa_report"]
    assert not [e for e in outcome.events if e.kind == "clock_changed"]


def test_a_variant_moving_the_due_time_later_lets_the_breach_fire_again(
        definition: DefinitionSet) -> None:
    case = register(definition, shanghai(2, 14), aware_on="2026-03-01", outcome="death")
    breached = escalate(definition, case, shanghai(9)).case
    assert "overdue" in breached.flags and breached.clocks["nmpa_report"].breached
    eased = apply(definition, breached, "correct", CLERK, {"outcome": "injury"}, shanghai(9, 11))
    assert not eased.case.clocks["nmpa_report"].breached


# -- runs_after_close and blocks_close ---------------------------------------------------------

def test_closing_stops_every_clock_but_the_one_that_runs_after_close(
        definition: DefinitionSet) -> None:
    case = register(definition, shanghai(2, 14), aware_on="2026-03-01", outcome="injury")
    done = closed(definition, case, shanghai(2, 16))
    assert done.state == "closed" and done.closed_at == shanghai(2, 16)
    assert {cid: c.status for cid, c in done.clocks.items()} == {
        "review": "stopped", "response": "stopped", "nmpa_report": "running"}


def test_only_the_step_written_for_the_closed_state_is_offered_and_it_stops_the_clock(
        definition: DefinitionSet) -> None:
    case = register(definition, shanghai(2, 14), aware_on="2026-03-01", outcome="injury")
    done = closed(definition, case, shanghai(2, 16))
    assert available(definition, done, CLERK, shanghai(3)) == {"record_nmpa_report": ()}
    with pytest.raises(Refused) as refused:
        apply(definition, done, "correct", CLERK, {"outcome": "death"}, shanghai(3))
    assert [r.code for r in refused.value.reasons] == ["final"]
    reported = apply(definition, done, "record_nmpa_report", CLERK, {"nmpa_ref": "R-1"},
                     shanghai(5))
    assert reported.case.state == "closed" and reported.case.closed_at == done.closed_at
    assert reported.case.clocks["nmpa_report"].status == "stopped"
    assert not clock_ops.late(reported.case.clocks["nmpa_report"], None)


def test_a_step_from_all_states_is_offered_on_open_and_on_finished_cases(
        definition: DefinitionSet) -> None:
    step = definition.process("incident").steps["record_nmpa_report"]
    assert step.sources == ("open", "closed") and step.from_keyword == "all"
    case = register(definition, shanghai(2, 14), aware_on="2026-03-01", outcome="injury")
    assert "record_nmpa_report" in available(definition, case, CLERK, shanghai(2, 15))


def test_a_closed_case_escalates_only_the_clock_that_runs_after_close(
        definition: DefinitionSet) -> None:
    case = register(definition, shanghai(2, 14), aware_on="2026-03-01", outcome="death")
    done = closed(definition, case, shanghai(2, 16))
    # An older case closed with its response clock left running: it is not escalated now.
    legacy = replace(done, clocks={**done.clocks, "response": case.clocks["response"]})
    outcome = escalate(definition, legacy, shanghai(9))
    assert [(e.kind, e.data["clock"]) for e in outcome.events if e.kind.startswith("clock_")] \
        == [("clock_warning", "nmpa_report"), ("clock_breach", "nmpa_report")]
    assert not outcome.case.clocks["response"].breached


def test_a_clock_that_blocks_close_refuses_the_closing_step_naming_the_deadline(
        definition: DefinitionSet) -> None:
    case = register(definition, shanghai(2, 14))
    with pytest.raises(Refused) as refused:
        apply(definition, case, "close", MANAGER, {}, shanghai(2, 16))
    [reason] = refused.value.reasons
    assert reason.code == "clock" and "Review deadline" in reason.message
    assert dict(reason.details) == {"clock": "review"}
    assert available(definition, case, MANAGER, shanghai(2, 16))["close"] == (reason,)
    reviewed = apply(definition, case, "finish_review", MANAGER, {}, shanghai(2, 16)).case
    assert available(definition, reviewed, MANAGER, shanghai(2, 16))["close"] == ()


# -- time left in working time -----------------------------------------------------------------

def test_time_left_on_a_working_clock_is_told_in_the_calendar_working_days(
        definition: DefinitionSet) -> None:
    case = register(definition, shanghai(2, 14))
    review = case.clocks["review"]  # 2 working days from Monday 14:00: Thursday 17:00
    assert review.due_at == shanghai(5, 17)  # Wednesday the 4th is closed
    left = clock_ops.time_left(definition, "incident", review, shanghai(2, 14))
    assert (left.working, left.overdue, left.days, left.hours, left.minutes) == (
        True, False, 2, 3, 0)  # Mon 14-17, Tue 7 h, Thu 7 h: 17 working hours, 7 a day


def test_time_overdue_on_a_working_clock_walks_the_calendar_across_a_make_up_saturday(
        definition: DefinitionSet) -> None:
    case = register(definition, shanghai(2, 14))
    review = case.clocks["review"]
    left = clock_ops.time_left(definition, "incident", review, shanghai(7, 11, 30))
    # Thursday 17:00 to Saturday 11:30: Friday 7 h and the make-up Saturday's 2.5 h.
    assert (left.working, left.overdue, left.days, left.hours, left.minutes) == (
        True, True, 1, 2, 30)


def test_time_left_on_a_calendar_clock_counts_days_of_24_hours(
        definition: DefinitionSet) -> None:
    case = register(definition, shanghai(2, 14), aware_on="2026-03-01", outcome="death")
    left = clock_ops.time_left(definition, "incident", case.clocks["nmpa_report"],
                               shanghai(2, 14))
    assert (left.working, left.overdue, left.days, left.hours) == (False, False, 5, 10)


def test_split_working_time_uses_the_calendar_working_day_length_never_24_hours() -> None:
    calendar = BusinessCalendar(CalendarSpec(
        id="office", timezone="Asia/Shanghai", country=None, working_week=frozenset(range(5)),
        windows=(WorkingWindow(time(8, 30), time(12)), WorkingWindow(time(13), time(17, 30)))))
    assert calendar.working_day_length() == timedelta(hours=8)
    # Friday 16:30 to the next Wednesday 10:00: 1 h + Mon 8 h + Tue 8 h + Wed 1.5 h.
    assert calendar.split_working_time(shanghai(6, 16, 30), shanghai(11, 10)) == (2, 2, 30)
    assert calendar.split_working_time(shanghai(11, 10), shanghai(6, 16, 30)) == (0, 0, 0)


def test_a_step_from_a_final_state_to_that_same_state_loads_and_keeps_the_case_closed(
        tmp_path: Path) -> None:
    target = tmp_path / "set"
    shutil.copytree(FIXTURE, target)
    process = target / "processes" / "incident.yaml"
    text = process.read_text(encoding="utf-8")
    step = "    from: all\n    stay: true\n"
    assert step in text
    process.write_text(text.replace(step, "    from: [closed]\n    to: closed\n"),
                       encoding="utf-8")
    definition = load(target)
    case = register(definition, shanghai(2, 14), aware_on="2026-03-01", outcome="injury")
    done = closed(definition, case, shanghai(2, 16))
    reported = apply(definition, done, "record_nmpa_report", CLERK, {"nmpa_ref": "R-1"},
                     shanghai(5))
    assert reported.case.state == "closed" and reported.case.closed_at == shanghai(2, 16)
    assert reported.case.clocks["nmpa_report"].status == "stopped"


def test_the_fixture_set_loads_without_a_problem() -> None:
    assert check(FIXTURE) == []


def test_with_start_on_too_the_step_starts_the_clock_and_the_field_gives_its_time(
        tmp_path: Path) -> None:
    target = tmp_path / "set"
    shutil.copytree(FIXTURE, target)
    process = target / "processes" / "incident.yaml"
    text = process.read_text(encoding="utf-8")
    assert "    start_at: received_at\n" in text
    process.write_text(text.replace("    start_at: received_at\n",
                                    "    start_on: [finish_review]\n    start_at: received_at\n"),
                       encoding="utf-8")
    definition = load(target)
    case = register(definition, shanghai(2, 14))
    assert "response" not in case.clocks  # the field alone does not start it
    reviewed = apply(definition, case, "finish_review", MANAGER, {}, shanghai(2, 16)).case
    assert reviewed.clocks["response"].started_at == shanghai(2, 9, 30)
