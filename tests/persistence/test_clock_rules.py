"""Deadline rules in the database: a moved clock in the audit trail, and the sweep on a closed
case whose clock runs after the close, on SQLite and on PostgreSQL.

The definitions are the small set in ``tests/fixtures/clocks``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence.models import CaseClock, CaseRow
from qmsflow.engine.persistence.sweep import sweep

from ..fixtures.clock_set import FIXTURE, load_clock_set, shanghai
from .conftest import Clock, Database, World, make_world


@pytest.fixture(scope="module")
def clock_set() -> DefinitionSet:
    return load_clock_set()


@pytest.fixture
def desk(database: Database, clock_set: DefinitionSet) -> Iterator[World]:
    """The fixture set published on ``database``, its clock at Monday 2 March 2026 14:00."""
    yield make_world(database, clock_set, Clock(shanghai(2, 14)), FIXTURE)


def register(world: World, **values: object) -> str:
    inputs = {"title": "Infusion pump alarm", "received_at": "2026-03-02T09:30:00+08:00",
              "aware_on": "2026-03-01", "outcome": "death", **values}
    return world.service.create_case("incident", "create", world.user("clerk"), inputs).number


def close(world: World, number: str) -> None:
    world.service.apply_step(number, "finish_review", world.user("manager"), {})
    world.service.apply_step(number, "close", world.user("manager"), {})


def clock_rows(world: World, number: str) -> dict[str, CaseClock]:
    with world.database.sessions() as session:
        rows = session.execute(select(CaseClock).join(CaseRow, CaseRow.id == CaseClock.case_id)
                               .where(CaseRow.number == number)).scalars().all()
        return {row.clock: row for row in rows}


def test_a_corrected_call_time_is_in_the_audit_trail_with_old_and_new_due_and_why(
        desk: World) -> None:
    number = register(desk)
    desk.service.apply_step(number, "correct", desk.user("clerk"),
                            {"received_at": "2026-03-02T09:00:00+08:00"})
    found = desk.service.read_case(number)
    [moved] = [e for e in found.events if e.action == "clock_changed"]
    assert moved.field == "response" and moved.reason == "field corrected"
    assert datetime.fromisoformat(str(moved.old)) == shanghai(3, 10, 30)
    assert datetime.fromisoformat(str(moved.new)) == shanghai(3, 10)
    assert moved.data is not None
    assert datetime.fromisoformat(str(moved.data["old_started_at"])) == shanghai(2, 9, 30)
    assert datetime.fromisoformat(str(moved.data["started_at"])) == shanghai(2, 9)
    assert found.case.clocks["response"].due_at == shanghai(3, 10)
    assert clock_rows(desk, number)["response"].due_at.astimezone(UTC) == shanghai(3, 10)


def test_a_reclassified_case_records_the_old_and_new_variant(desk: World) -> None:
    number = register(desk, outcome="injury")
    desk.service.apply_step(number, "correct", desk.user("clerk"), {"outcome": "death"})
    [moved] = [e for e in desk.service.read_case(number).events if e.action == "clock_changed"]
    assert moved.field == "nmpa_report" and moved.reason == "variant re-chosen"
    assert moved.data is not None
    assert (moved.data["old_variant"], moved.data["variant"]) == ("injury", "death")
    assert clock_rows(desk, number)["nmpa_report"].variant == "death"


def test_the_sweep_breaches_a_clock_running_after_close_and_only_that_clock(
        desk: World) -> None:
    number = register(desk)
    close(desk, number)
    rows = clock_rows(desk, number)
    assert {cid: (row.status, row.after_close) for cid, row in rows.items()} == {
        "review": ("stopped", False), "response": ("stopped", False),
        "nmpa_report": ("running", True)}
    desk.clock.now = shanghai(9)  # a week after awareness on the 1st: the report is late
    result = sweep(desk.service)
    assert (result.escalated, result.warnings, result.breaches) == (1, 1, 1), result
    case = desk.service.read_case(number, history=False).case
    assert case.state == "closed" and "overdue" in case.flags
    assert case.clocks["nmpa_report"].breached
    assert sweep(desk.service).escalated == 0  # once


def test_a_closed_case_without_such_a_clock_is_never_claimed(desk: World) -> None:
    number = register(desk, outcome="none")  # no report due: nothing runs after close
    close(desk, number)
    with desk.database.sessions.begin() as session:
        # A case closed before the rule existed, its response clock left running.
        session.execute(CaseClock.__table__.update().where(
            CaseClock.clock == "response").values(status="running"))
    desk.clock.now = shanghai(20)
    assert sweep(desk.service).escalated == 0


def test_the_report_step_on_the_closed_case_stops_the_clock_and_keeps_it_closed(
        desk: World) -> None:
    number = register(desk)
    close(desk, number)
    closed_at = desk.service.read_case(number, history=False).case.closed_at
    desk.clock.now = shanghai(5)
    case = desk.service.apply_step(number, "record_nmpa_report", desk.user("clerk"),
                                   {"nmpa_ref": "NMPA-2026-7"})
    assert case.state == "closed" and case.closed_at == closed_at
    assert case.clocks["nmpa_report"].status == "stopped"
    assert clock_rows(desk, number)["nmpa_report"].status == "stopped"
    desk.clock.now = shanghai(20)
    assert sweep(desk.service).escalated == 0
