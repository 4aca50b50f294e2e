"""A step's round trips on PostgreSQL: its reads run outside a transaction, and a step whose
only write is its case's statement sends it alone, committing with itself; any other step's
writes are one transaction. What PostgreSQL received is read from psycopg itself: whether it
sent BEGIN before a statement and COMMIT at the end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import event, select, text

from qmsflow.engine.persistence import db
from qmsflow.engine.persistence.models import CaseRow, OutboxMessage
from qmsflow.engine.persistence.store import Conflict

from .conftest import PASSWORD, World, open_complaint

IDLE = TransactionStatus.IDLE


# PostgreSQL only: SQLite takes every step as one transaction with its write lock at BEGIN.
pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)


@contextmanager
def sent(world: World) -> Iterator[list[str]]:
    """What psycopg sends while the block runs: each statement's first word, with BEGIN where
    it opens a transaction first and COMMIT where it ends one."""
    log: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        driver = cursor.connection
        if not driver.autocommit and driver.info.transaction_status == IDLE:
            log.append("BEGIN")
        log.append(statement.split(None, 1)[0].upper())

    def commit(conn: Any) -> None:
        if conn.connection.driver_connection.info.transaction_status != IDLE:
            log.append("COMMIT")

    engine = world.database.engine
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", commit)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "commit", commit)


def confirm(world: World, number: str, expected_version: int | None = None) -> None:
    """Confirm the complaint: a transition that writes nothing but its case."""
    world.service.apply_step(number, "confirm_complaint", world.user("quality"),
                             {"is_complaint": True, "screening_rationale": "设备故障"},
                             expected_version=expected_version)


def test_a_step_that_writes_only_its_case_costs_two_round_trips(world: World) -> None:
    number = open_complaint(world).number

    with sent(world) as log:
        confirm(world, number)

    # The read, then the one write (case, clocks and audit entries) that commits itself.
    assert log == ["SELECT", "WITH"]
    found = world.service.read_case(number)
    assert found.case.state == "classification"
    assert [e.new for e in found.events if e.action == "transition"][-1] == "classification"


def test_restating_a_signed_value_voids_the_signature_in_the_steps_one_transaction(
        world: World) -> None:
    number = open_complaint(world).number  # registered with a signature

    with sent(world) as log:
        world.service.apply_step(number, "correct_received_at", world.user("quality"),
                                    {"received_at": "2026-03-02T09:00:00+08:00"},
                                    reason="the call came in at nine")

    assert log[0] == "SELECT" and log[1] == "BEGIN" and log[-1] == "COMMIT"
    assert "WITH" in log
    found = world.service.read_case(number)
    assert "signature_invalidated" in [e.action for e in found.events]
    assert [s.step for s in found.signatures if s.invalidated_at is not None] == ["register"]


def test_a_step_that_also_queues_a_notification_writes_in_one_transaction(
        world: World) -> None:
    number = open_complaint(world).number
    with world.database.sessions() as session:
        queued = session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc())
                                .limit(1))

    with sent(world) as log:
        world.service.apply_step(number, "update_progress", world.user("sales"),
                                    {"progress_note": "工程师明日到场"})

    assert log[0] == "SELECT"  # the read needs no transaction
    assert log[1:3] == ["BEGIN", "WITH"]  # the case first, then what follows from it
    assert log[-1] == "COMMIT"
    assert "INSERT" in log[3:-1]
    with world.database.sessions() as session:
        assert session.scalar(select(OutboxMessage.id).where(OutboxMessage.id > (queued or 0))
                              ) is not None


def test_a_signed_step_writes_its_case_and_signature_in_one_transaction(
        world: World) -> None:
    number = open_complaint(world).number

    with sent(world) as log:
        world.service.apply_step(
            number, "decide_reportability", world.user("quality"),
            {"report_cn": "not_reportable", "report_us": "not_reportable",
             "report_eu": "not_reportable", "reportability_rationale": "未造成伤害。"},
            password=PASSWORD)

    # Before it, the signer's password is checked in transactions of its own.
    begin = len(log) - 1 - log[::-1].index("BEGIN")
    step = log[begin - 1:]
    assert step[:2] == ["SELECT", "BEGIN"] and step[-1] == "COMMIT"
    assert step.index("WITH") < step.index("INSERT")  # the case, then its signature
    found = world.service.read_case(number)
    assert "decide_reportability" in [s.step for s in found.signatures
                                      if s.invalidated_at is None]


def test_a_step_refused_for_a_stale_version_writes_nothing_and_sends_no_transaction(
        world: World) -> None:
    case = open_complaint(world)
    confirm(world, case.number)

    with sent(world) as log, pytest.raises(Conflict, match="changed since you opened it"):
        confirm(world, case.number, expected_version=case.row_version)

    assert "BEGIN" not in log and "COMMIT" not in log
    found = world.service.read_case(case.number)
    assert [e.action for e in found.events].count("transition") == 1


def test_a_write_after_a_steps_last_write_is_refused_and_rolled_back(world: World) -> None:
    number = open_complaint(world).number
    database = world.database

    with (pytest.raises(RuntimeError, match="wrote after its last write"),
          db.step(database.sessions) as session):
        db.begin_writes(session)
        with db.last_write(session):
            session.execute(text("UPDATE cases SET updated_at = updated_at WHERE number = :n"),
                            {"n": number})
        session.execute(text("UPDATE cases SET state = 'tampered' WHERE number = :n"),
                        {"n": number})

    with database.sessions() as session:
        assert session.scalar(select(CaseRow.state).where(CaseRow.number == number)) != (
            "tampered")
