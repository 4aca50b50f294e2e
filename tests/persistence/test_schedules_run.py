"""Scheduled work in the database: each due occurrence opens its case once, on both backends,
with the occurrence recorded in the case's own transaction and audited as the schedule's."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from qmsflow.engine.loader import load
from qmsflow.engine.persistence import CaseService, audit, proof, registers, schedules
from qmsflow.engine.persistence.models import CaseRow, ScheduledOccurrence
from qmsflow.engine.persistence.versions import Versions

from ..conftest import EditSet
from .conftest import Clock, Database, World, make_world, unguard
from .test_case_references import REQUEST
from .test_cli import Cli
from .test_registers import CUSTOMER, DEVICE, PRODUCT

# Accepted 15 January 2026, in warranty until 14 January 2027: visits due 15 April, 15 July,
# 15 October 2026, then (out of warranty) 15 July 2027.
APRIL_15 = datetime(2026, 4, 15, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def seed(world: World, *devices: dict[str, Any]) -> None:
    with world.database.sessions.begin() as session:
        registers.create(session, world.definition, "product", PRODUCT, world.clock())
        registers.create(session, world.definition, "customer", CUSTOMER, world.clock())
        for device in devices or (DEVICE,):
            registers.create(session, world.definition, "installed_device",
                             {**DEVICE, **device}, world.clock())


def cases_of(world: World, process: str) -> list[CaseRow]:
    with world.database.sessions() as session:
        return list(session.execute(select(CaseRow).where(CaseRow.process == process)
                                    .order_by(CaseRow.number)).scalars())


def occurrence_count(world: World) -> int:
    with world.database.sessions() as session:
        return session.execute(select(func.count()).select_from(ScheduledOccurrence)
                               ).scalar_one()


class TestSchedulesRun:
    def test_a_device_due_for_its_visit_gets_one_case_copying_the_device(
            self, world: World) -> None:
        seed(world)
        world.clock.now = APRIL_15
        result = schedules.run(world.service)
        assert result.ok
        assert [(p.schedule, p.key, p.due) for p in result.opened] == [
            ("maintenance_visits", "SN-0001", date(2026, 4, 15))]
        case = world.service.read_case(result.opened[0].case_number or "").case
        assert case.process == "maintenance_visit" and case.state == "planned"
        assert case.values["installed_device"] == "SN-0001"
        assert case.values["serial_number"] == "SN-0001"
        assert case.values["customer_no"] == "C-0001"
        assert case.values["visit_due"] == date(2026, 4, 15)
        assert case.values["under_warranty"] is True

    def test_running_again_opens_nothing_new(self, world: World) -> None:
        seed(world)
        world.clock.now = APRIL_15
        schedules.run(world.service)
        world.clock.advance(hours=3)
        again = schedules.run(world.service)
        assert again.opened == [] and again.ok
        assert len(cases_of(world, "maintenance_visit")) == 1
        assert occurrence_count(world) == 1

    def test_the_audit_trail_names_the_schedule_and_the_entry_and_verifies_clean(
            self, world: World) -> None:
        seed(world)
        world.clock.now = APRIL_15
        number = schedules.run(world.service).opened[0].case_number or ""
        history = world.service.read_case(number).events
        created = next(e for e in history if e.action == "created")
        assert created.actor_name == "qmsflow (schedule) maintenance_visits"
        assert "maintenance_visits" in (created.reason or "")
        assert "SN-0001" in (created.reason or "") and "2026-04-15" in (created.reason or "")
        world.service.seal_audit()
        with world.database.sessions() as session:
            _, breaks = audit.verify(session)
            differences = proof.check(session, Versions())
        assert breaks == [] and differences == []

    def test_nothing_is_opened_before_its_date_and_a_late_worker_catches_up(
            self, world: World) -> None:
        seed(world)
        world.clock.now = datetime(2026, 4, 14, 1, 0, tzinfo=UTC)
        assert schedules.run(world.service).opened == []
        world.clock.now = datetime(2026, 5, 6, 1, 0, tzinfo=UTC)  # three weeks late
        assert [p.due for p in schedules.run(world.service).opened] == [date(2026, 4, 15)]

    def test_an_occurrence_older_than_the_catch_up_days_is_left(self, world: World) -> None:
        seed(world)
        world.clock.now = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # 47 days after 15 April
        assert schedules.run(world.service).opened == []

    def test_a_device_without_an_acceptance_date_is_not_visited(self, world: World) -> None:
        seed(world, {"acceptance_date": None, "warranty_end": None})
        world.clock.now = APRIL_15
        assert schedules.run(world.service).opened == []

    def test_the_plan_shows_what_would_open_and_what_opened(self, world: World) -> None:
        seed(world, {}, {"serial": "SN-0002", "acceptance_date": "2026-01-20"})
        world.clock.now = APRIL_15
        schedules.run(world.service)
        planned = schedules.plan(world.service, date(2026, 4, 1), date(2026, 4, 30))
        assert [(p.key, p.due, p.opens_on, p.case_number is not None) for p in planned] == [
            ("SN-0001", date(2026, 4, 15), date(2026, 4, 15), True),
            ("SN-0002", date(2026, 4, 20), date(2026, 4, 20), False)]
        assert occurrence_count(world) == 1  # the plan opened nothing

    def test_the_page_names_an_opened_case_only_to_those_who_may_read_it(
            self, world: World) -> None:
        seed(world)
        world.clock.now = APRIL_15
        number = schedules.run(world.service).opened[0].case_number
        # The after-sales roles read every visit; sales reads no maintenance visit at all.
        assert world.service.readable_numbers({number}, world.user("service_desk")) == {number}
        assert world.service.readable_numbers({number}, world.user("sales")) == set()

    def test_two_workers_racing_open_each_occurrence_exactly_once(self, world: World) -> None:
        seed(world, *({"serial": f"SN-{n:04d}"} for n in range(1, 25)))
        world.clock.now = APRIL_15
        workers = [world.service, CaseService(world.database.sessions, Versions(),
                                              world.definition, world.clock)]
        results: list[schedules.RunResult] = []
        start = threading.Barrier(len(workers))

        def work(service: CaseService) -> None:
            start.wait()
            results.append(schedules.run(service))

        threads = [threading.Thread(target=work, args=(service,)) for service in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(result.ok for result in results)
        assert sum(len(result.opened) for result in results) == 24
        visits = cases_of(world, "maintenance_visit")
        assert sorted(str(row.values["installed_device"]) for row in visits) == [
            f"SN-{n:04d}" for n in range(1, 25)]
        assert occurrence_count(world) == 24


class TestSchedulesRefused:
    def test_an_occurrence_its_step_refuses_is_reported_opens_nothing_and_stays_due(
            self, database: Database, clock: Clock, edited_set: EditSet) -> None:
        # A schedule giving the visit's date field the device's serial: the step refuses it.
        root = edited_set(("schedules/maintenance_visits.yaml", "visit_due: due",
                           "visit_due: key"))
        world = make_world(database, load(root), clock, root)
        seed(world)
        world.clock.now = APRIL_15
        result = schedules.run(world.service)
        assert [(f.schedule, f.key, f.due) for f in result.failures] == [
            ("maintenance_visits", "SN-0001", date(2026, 4, 15))]
        assert "visit_due" in result.failures[0].reason
        assert result.summary() == "0 case(s) opened, 1 failed"
        assert cases_of(world, "maintenance_visit") == [] and occurrence_count(world) == 0
        assert len(schedules.run(world.service).failures) == 1  # tried again next round


class TestSchedulesFollowUpCalls:
    def test_a_customer_whose_device_had_service_closed_recently_gets_a_call(
            self, world: World) -> None:
        seed(world)
        _close_request_for(world, "SN-0001", datetime(2026, 2, 20, 2, 0, tzinfo=UTC))
        world.clock.now = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)
        opened = schedules.run(world.service, only={"follow_up_calls"}).opened
        assert [(p.key, p.due) for p in opened] == [("C-0001", date(2026, 3, 5))]
        call = world.service.read_case(opened[0].case_number or "").case
        assert call.values["hospital"] == "市第一人民医院"
        assert call.values["call_due"] == date(2026, 3, 5)

    def test_a_customer_without_recent_service_gets_no_call(self, world: World) -> None:
        seed(world)
        world.clock.now = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)
        assert schedules.run(world.service, only={"follow_up_calls"}).opened == []


def _close_request_for(world: World, serial: str, closed: datetime) -> None:
    """A service request for the device, closed at ``closed``: only its closing time matters
    here, so it is set on the row (the closing steps have tests of their own)."""
    request = world.service.create_case("service_request", "report_fault",
                                        world.user("service_desk"),
                                        {**REQUEST, "installed_device": serial})
    with world.database.sessions.begin() as session:
        row = session.execute(select(CaseRow).where(CaseRow.number == request.number)
                              ).scalar_one()
        row.closed_at = closed


class TestOccurrencesAreProved:
    """The occurrence rows keep each visit from opening twice: the database refuses to change
    them, and ``audit verify`` names one changed, removed or added around qmsflow."""

    @pytest.fixture
    def opened(self, world: World) -> str:
        seed(world)
        world.clock.now = APRIL_15
        number = schedules.run(world.service).opened[0].case_number or ""
        world.service.seal_audit()
        return number

    def test_an_occurrence_cannot_be_changed_or_removed_in_the_database(
            self, world: World, opened: str) -> None:
        for statement in ("UPDATE scheduled_occurrences SET due_on = '2026-07-15'",
                          "DELETE FROM scheduled_occurrences"):
            with pytest.raises(DBAPIError) as refused, \
                    world.database.engine.begin() as connection:
                connection.execute(text(statement))
            assert "append-only" in str(refused.value)
        assert occurrence_count(world) == 1

    @pytest.mark.parametrize(("edit", "named"), [
        ("DELETE FROM scheduled_occurrences",
         "but its occurrence has no row: it was deleted, and the occurrence would open again"),
        ("UPDATE scheduled_occurrences SET due_on = '2026-07-15'",
         "due 2026-07-15): its schedule, entry or due date differ"),
        ("INSERT INTO scheduled_occurrences (schedule, register, entry_key, due_on, opens_on,"
         " case_number, opened_at) VALUES ('maintenance_visits', 'installed_device', 'SN-0001',"
         " '2026-07-15', '2026-07-15', 'HF-FORGED', '2026-04-15 01:00:00')",
         "names case HF-FORGED, which no schedule opened"),
    ], ids=["deleted", "moved", "forged"])
    def test_audit_verify_names_an_occurrence_edited_around_qmsflow(
            self, world: World, opened: str, edit: str, named: str) -> None:
        with world.database.sessions() as session:
            assert proof.check(session, Versions()) == []
        unguard(world.database, "scheduled_occurrences")
        with world.database.engine.begin() as connection:
            connection.execute(text(edit))
        code, output = Cli(world.database.url)("audit", "verify")
        assert code == 1, output
        assert named in output, output
