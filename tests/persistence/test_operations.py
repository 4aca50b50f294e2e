"""Operations on both backends: the cases behind a report figure are exactly those it counts,
key figures over a reader's cases, and the outbox as a reader may see it and send again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from qmsflow.engine.persistence import Filters, operations, reports
from qmsflow.engine.persistence.models import OutboxMessage

from .conftest import World, open_complaint
from .report_cases import closed_complaint, closed_service_request, not_established_complaint

OCTOBER = reports.month(2026, 10)


def beijing(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 10, day, hour - 8, tzinfo=UTC)


@pytest.fixture
def october(world: World) -> World:
    """Complaints and service requests finished in October 2026 and one in September."""
    closed_complaint(world, beijing(9))
    closed_complaint(world, beijing(12), cause="design", department="technical",
                     improvement="done")
    not_established_complaint(world, beijing(14))
    closed_complaint(world, datetime(2026, 9, 20, 2, tzinfo=UTC), cause="design")
    closed_service_request(world, beijing(14, 11), engineer=world.user("engineer"))
    closed_service_request(world, beijing(16, 11), late=True, satisfied=False, complaint=True)
    world.clock.now = datetime(2026, 11, 3, 1, tzinfo=UTC)
    return world


def test_every_line_of_every_report_drills_down_to_as_many_cases_as_it_counts(
        october: World) -> None:
    definition = october.definition
    sessions = october.database.sessions
    for result in reports.run_reports(sessions, definition, OCTOBER):
        report = definition.reports[result.report]
        for previous in (False, True):
            total = result.total.previous_count if previous else result.total.count
            assert len(reports.counted(sessions, definition, report, OCTOBER,
                                       previous=previous)) == total, report.id
            for index, breakdown in enumerate(result.breakdowns):
                for line in breakdown.lines:
                    found = reports.counted(sessions, definition, report, OCTOBER,
                                            dimension=index, line=reports.line_token(line.key),
                                            previous=previous)
                    wanted = line.previous_count if previous else line.count
                    assert len(found) == wanted, (report.id, breakdown.dimension, line.key)
        for measure in report.measures:
            if measure.aggregate == "count":
                found = reports.counted(sessions, definition, report, OCTOBER,
                                        measure=measure.id)
                assert len(found) == result.total.figure(measure.id).value, measure.id


def test_key_figures_count_only_the_cases_their_reader_may_read(october: World) -> None:
    ops = operations.Operations(october.service)
    overseer = ops.figures(october.user("quality_manager"), OCTOBER, ["complaint_kpis"])[0]
    finance = ops.figures(october.user("finance"), OCTOBER, ["complaint_kpis"])[0]
    assert (overseer.total.count, finance.total.count) == (3, 2)  # finance: closed ones only
    assert finance.total.previous_count == 1


def test_a_case_list_narrows_to_given_numbers_and_to_a_deadline(world: World) -> None:
    first, second = open_complaint(world).number, open_complaint(world).number
    reader = world.user("quality_manager")
    chosen = world.service.list_cases(reader, Filters(numbers=(second,), mine=False))
    assert [case.number for case in chosen.rows] == [second]
    assert world.service.list_cases(reader, Filters(numbers=(), mine=False)).total == 0
    due = world.service.list_cases(reader, Filters(mine=False, due_before=world.clock()))
    assert due.total == 0
    later = world.service.list_cases(reader, Filters(
        mine=False, due_before=datetime(2027, 1, 1, tzinfo=UTC)))
    assert {case.number for case in later.rows} >= {first, second}


def test_a_reader_without_personal_data_rights_sees_no_address_even_in_the_error(
        world: World) -> None:
    address = "wang.fang@hospital.example.cn"
    number = closed_complaint(world, datetime(2026, 3, 3, 2, tzinfo=UTC),
                              complainant_email=address)
    with world.database.sessions.begin() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.case_number == number)
                        .values(status="failed", attempts=8,
                                last_error=f"SMTPRecipientsRefused: {{'{address}': (550, 'no')}}"))
    ops = operations.Operations(world.service)
    [seen] = [m for m in ops.messages(world.user("finance")).rows if m.case_number == number
              and m.template == "acknowledgement"]
    assert seen.recipient is None and seen.subject is None
    assert seen.last_error is not None
    assert address not in seen.last_error and "550" in seen.last_error
    [whole] = [m for m in ops.messages(world.user("quality_manager")).rows
               if m.id == seen.id]
    assert whole.recipient == address and whole.last_error is not None
    assert address in whole.last_error


def test_only_an_email_that_failed_while_being_sent_is_sent_again(world: World) -> None:
    number = open_complaint(world).number  # no address: failed before any try
    ops = operations.Operations(world.service)
    manager = world.user("quality_manager")
    [message] = ops.case_messages(manager, number)
    assert (message.status, message.attempts, message.retryable) == ("failed", 0, False)
    with pytest.raises(operations.NotRetryable):
        ops.retry(manager, message.id)
    with world.database.sessions() as session:
        status = session.execute(select(OutboxMessage.status).where(
            OutboxMessage.id == message.id)).scalar_one()
    assert status == "failed"
