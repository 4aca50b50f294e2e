"""Reliability: concurrent sessions never lose an update or share a case number, and an action
that fails halfway leaves nothing behind.

Every test runs on SQLite and on PostgreSQL. The worker threads share one CaseService, as the
threads of one web worker would: it holds only a session factory, the compiled-definition cache
and immutable settings, and opens a session of its own per call, so no session or connection is
ever shared between threads. On SQLite every transaction takes the write lock at BEGIN, so the
workers queue; on PostgreSQL they race. Threads start each round together at a
``threading.Barrier``, never after a sleep.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from qmsflow.engine.cases import Case
from qmsflow.engine.machine import Refused
from qmsflow.engine.persistence import audit, connect, db, outbox, service, store
from qmsflow.engine.persistence.models import AuditEvent, Base, CaseRow
from qmsflow.engine.persistence.service import CaseNotFound
from qmsflow.engine.persistence.store import Conflict

from .conftest import PASSWORD, World, decided, open_complaint

WORKERS = 8
ROUNDS = 63  # 8 workers x 63 rounds = 504 attempts on one case
CREATES_PER_WORKER = 8  # 8 x 8 = 64 cases opened at once
WAIT = 60  # seconds a barrier waits before the test fails instead of hanging

T = TypeVar("T")


class Boom(RuntimeError):
    """The failure a test injects halfway through an action."""


@dataclass(frozen=True)
class Attempt:
    """What one worker's call came to: the case it returned, or the error it raised."""

    worker: int
    result: Any = None
    error: BaseException | None = None


def together(workers: int, work: Callable[[int, threading.Barrier], T]) -> list[T]:
    """Run ``work(worker, barrier)`` on ``workers`` threads at once; their results in worker
    order. An exception in any worker fails the test (and breaks the barrier, so no worker
    waits for it in vain)."""
    barrier = threading.Barrier(workers, timeout=WAIT)

    def run(worker: int) -> T:
        try:
            return work(worker, barrier)
        except BaseException:
            barrier.abort()
            raise

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run, worker) for worker in range(workers)]
        return [future.result() for future in futures]


def attempt(worker: int, call: Callable[[], Any]) -> Attempt:
    """``call()``, with a Conflict or Refused kept as the attempt's outcome."""
    try:
        return Attempt(worker, result=call())
    except (Conflict, Refused) as error:
        return Attempt(worker, error=error)


def row_version(world: World, number: str) -> int:
    """The case's row version as stored now (what a form would carry)."""
    with world.database.sessions() as session:
        return session.execute(select(CaseRow.row_version).where(CaseRow.number == number)
                               ).scalar_one()


def actions(world: World, number: str) -> Counter[str]:
    """How many audit entries of each action the case's trail holds."""
    return Counter(e.action for e in world.service.read_case(number).events)


def chain_breaks(world: World) -> list[audit.Break]:
    with world.database.sessions() as session:
        _, breaks = audit.verify(session)
    return breaks


def everything(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order: the whole database to compare."""
    with world.database.sessions() as session:
        return {table.name: [tuple(row) for row in session.execute(
            table.select().order_by(*table.primary_key.columns))]
            for table in Base.metadata.sorted_tables}


# -- two people act on one case at once ---------------------------------------------------------


SCREENING = [  # two forms opened on the same registered complaint: (role, step, how)
    ("quality", "confirm_complaint", {
        "inputs": {"is_complaint": True, "screening_rationale": "设备故障"}}),
    ("quality_manager", "not_a_complaint", {
        "inputs": {"screening_rationale": "咨询类来电"}, "reason": "仅为咨询",
        "password": PASSWORD}),
]


def screen(world: World, number: str, side: int, version: int) -> Case:
    """Side ``side`` of SCREENING submits its form, opened on ``version``."""
    role, action, how = SCREENING[side]
    return world.service.apply_step(number, action, world.user(role), how["inputs"],
                                      reason=how.get("reason"), password=how.get("password"),
                                      expected_version=version)


def test_of_two_conflicting_steps_taken_at_once_exactly_one_is_saved_and_nothing_is_lost(
        world: World) -> None:
    for _ in range(4):  # a few rounds, so either side may win
        case = decided(world, open_complaint(world).number)
        seen = case.row_version  # both forms were opened on this version
        known = len(world.service.read_case(case.number).events)

        def take(side: int, barrier: threading.Barrier, number: str = case.number,
                 version: int = seen) -> Attempt:
            barrier.wait()
            return attempt(side, partial(screen, world, number, side, version))

        outcomes = together(2, take)

        won = [o for o in outcomes if o.error is None]
        lost = [o for o in outcomes if o.error is not None]
        assert len(won) == 1 and len(lost) == 1, outcomes
        winner, loser = won[0], lost[0]
        assert isinstance(loser.error, Conflict), loser.error
        assert "nothing was saved" in str(loser.error)

        # The stored case is exactly what the winner saw saved, one version on; the loser
        # left no entry and no signature.
        history = world.service.read_case(case.number)
        assert history.case == winner.result
        assert history.case.row_version == seen + 1
        assert actions(world, case.number)["transition"] == 2  # the decision, then the winner
        loser_id = world.user(SCREENING[loser.worker][0])
        assert not [e for e in history.events[known:] if e.actor_id == loser_id]
        assert loser_id not in {s.signer_id for s in history.signatures
                                if s.step != "decide_reportability"}

        # Reloaded on the new version, the loser's step is refused: the case has moved on.
        with pytest.raises(Refused) as refused:
            screen(world, case.number, loser.worker, history.case.row_version)
        assert {r.code for r in refused.value.reasons} & {"state", "final"}
        assert world.service.read_case(case.number).case == winner.result
    assert chain_breaks(world) == []


# -- many workers, many attempts -----------------------------------------------------------------


@dataclass(frozen=True)
class Repeatable:
    """A step that stays and may be taken again and again, and the one value it sets."""

    step: str
    field: str
    roles: tuple[str, ...]
    reason: str | None = None

    def value(self, round_: int, worker: int) -> str:
        if self.field == "received_at":  # a distinct moment for every attempt
            return f"2026-03-02T{round_ // 60 + 1:02d}:{round_ % 60:02d}:{worker:02d}+08:00"
        return f"进度 {round_:03d}-{worker}"


REPEATABLE = [
    # Telling the customer where it stands: the case and its notification, one transaction.
    Repeatable("update_progress", "progress_note", ("quality", "sales", "quality_manager")),
    # Correcting the time received: on PostgreSQL the case's one statement, committing alone.
    Repeatable("correct_received_at", "received_at", ("quality", "quality_manager"),
               reason="corrected from the call log"),
]


@pytest.mark.slow
@pytest.mark.parametrize("repeatable", REPEATABLE, ids=lambda r: r.step)
def test_eight_workers_racing_504_times_on_one_case_lose_no_update(
        world: World, repeatable: Repeatable) -> None:
    case = open_complaint(world)
    users = [world.user(r) for r in repeatable.roles]
    before_version = case.row_version
    before = actions(world, case.number)
    set_before = sum(e.field == repeatable.field for e in world.service.read_case(
        case.number).events)

    def work(worker: int, barrier: threading.Barrier) -> list[Attempt]:
        outcomes = []
        for round_ in range(ROUNDS):
            seen = row_version(world, case.number)
            barrier.wait()  # everyone has read this round's version: now all apply it
            outcomes.append(attempt(worker, partial(
                world.service.apply_step, case.number, repeatable.step,
                users[worker % len(users)], {repeatable.field: repeatable.value(round_, worker)},
                expected_version=seen, reason=repeatable.reason)))
            barrier.wait()  # the round is over before anyone reads the next version
        return outcomes

    rounds = together(WORKERS, work)
    outcomes = [o for worker in rounds for o in worker]
    saved = [o for o in outcomes if o.error is None]
    conflicts = [o for o in outcomes if isinstance(o.error, Conflict)]

    assert len(outcomes) == WORKERS * ROUNDS >= 500
    assert len(saved) + len(conflicts) == len(outcomes)  # no other outcome, no Refused
    assert all("nothing was saved" in str(o.error) for o in conflicts)
    # All read the same version each round, so exactly one of them can save it.
    assert [sum(w[r].error is None for w in rounds) for r in range(ROUNDS)] == [1] * ROUNDS

    # Zero lost updates: every save moved the version on by one and left its audit entries.
    after = world.service.read_case(case.number)
    trail = actions(world, case.number)
    assert after.case.row_version == before_version + len(saved)
    assert trail["transition"] == before["transition"] + len(saved)
    assert after.case.row_version == 1 + trail["transition"]  # created at 1, +1 per step
    values = [e.new for e in after.events if e.field == repeatable.field][set_before:]
    # (as the trail holds them: a moment in UTC)
    assert sorted(values) == sorted(audit.jsonable(o.result.values[repeatable.field])
                                    for o in saved)
    assert audit.jsonable(after.case.values[repeatable.field]) == values[-1]
    assert chain_breaks(world) == []


def test_eight_workers_opening_cases_at_once_get_distinct_gap_free_numbers(
        world: World) -> None:
    def work(worker: int, barrier: threading.Barrier) -> list[str]:
        numbers = []
        for _ in range(CREATES_PER_WORKER):
            barrier.wait()
            numbers.append(open_complaint(world).number)
        return numbers

    numbers = [n for worker in together(WORKERS, work) for n in worker]

    total = WORKERS * CREATES_PER_WORKER
    assert len(set(numbers)) == len(numbers) == total
    assert sorted(numbers) == [f"KS-2026-03-{seq:04d}" for seq in range(1, total + 1)]
    with world.database.sessions() as session:
        stored = session.execute(select(CaseRow.number).order_by(CaseRow.number)).scalars()
        assert list(stored) == sorted(numbers)
    assert open_complaint(world).number == f"KS-2026-03-{total + 1:04d}"
    assert chain_breaks(world) == []


# -- a failure halfway through ---------------------------------------------------------------


@dataclass
class Seen:
    """What the failing transaction had written, seen from inside it just before it failed."""

    row: tuple[Any, ...] | None = None
    events: int | None = None


def _observe(session: Session, case_id: int, seen: Seen) -> None:
    seen.row = tuple(session.execute(select(CaseRow.number, CaseRow.state, CaseRow.row_version)
                                     .where(CaseRow.id == case_id)).one())
    seen.events = session.execute(select(func.count()).select_from(AuditEvent)
                                  .where(AuditEvent.case_id == case_id)).scalar_one()


def fail_at(monkeypatch: pytest.MonkeyPatch, point: str) -> Seen:
    """Make the service's next write fail at ``point`` of its transaction."""
    seen = Seen()
    if point == "after the case insert":
        real_insert = store.insert_case

        def insert(session: Session, definition: Any, *args: Any) -> Any:
            _observe(session, real_insert(session, definition, *args), seen)
            raise Boom(point)

        monkeypatch.setattr(service.store, "insert_case", insert)
        return seen
    if point == "after the case update":
        real_update = store.update_cases

        def update(session: Session, writes: list[store.CaseWrite]) -> None:
            real_update(session, writes)
            _observe(session, writes[0].case_id, seen)
            raise Boom(point)

        monkeypatch.setattr(service.store, "update_cases", update)
        return seen
    if point == "after the notifications are queued":
        real_enqueue = outbox.enqueue

        def enqueue(session: Session, definition: Any, case: Any, case_id: int,
                    *args: Any) -> Any:
            real_enqueue(session, definition, case, case_id, *args)
            _observe(session, case_id, seen)
            raise Boom(point)

        monkeypatch.setattr(service.outbox, "enqueue", enqueue)
        return seen
    real_write = audit.write

    def write_entries(session: Session, batch: Any, case_id: int | None = None) -> None:
        if case_id is None:  # not about a case: left alone
            return real_write(session, batch, case_id)
        if point == "after the audit insert":
            real_write(session, batch, case_id)
        _observe(session, case_id, seen)
        raise Boom(point)

    monkeypatch.setattr(service.audit, "write", write_entries)
    return seen


@pytest.mark.parametrize("point", ["after the case update",
                                   "after the notifications are queued"])
def test_a_step_that_fails_halfway_leaves_neither_the_case_change_nor_its_audit_entries(
        world: World, monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    case = decided(world, open_complaint(world).number)
    entries = len(world.service.read_case(case.number).events)
    stored = everything(world)
    seen = fail_at(monkeypatch, point)

    with pytest.raises(Boom):
        world.service.apply_step(case.number, "not_a_complaint", world.user("quality_manager"),
                                   {"screening_rationale": "咨询类来电"}, reason="仅为咨询",
                                   password=PASSWORD, expected_version=case.row_version)

    # The transaction had moved the case on and written its entries (with the case, in the
    # same statement on PostgreSQL)...
    assert seen.row == (case.number, "not_a_complaint", case.row_version + 1)
    assert seen.events is not None and seen.events > entries
    # ...and none of it is left: not the row, its clocks, the signature nor an audit entry.
    assert everything(world) == stored
    after = world.service.read_case(case.number).case
    assert (after.state, after.row_version) == ("registered", case.row_version)
    assert chain_breaks(world) == []

    monkeypatch.undo()  # the same step, taken again, goes through
    done = world.service.apply_step(
        case.number, "not_a_complaint", world.user("quality_manager"),
        {"screening_rationale": "咨询类来电"}, reason="仅为咨询", password=PASSWORD,
        expected_version=case.row_version)
    assert (done.state, done.row_version) == ("not_a_complaint", case.row_version + 1)
    assert actions(world, case.number)["transition"] == 2  # the signed decision, then this
    assert chain_breaks(world) == []


@pytest.mark.parametrize("point", ["after the case insert", "before the audit insert",
                                   "after the audit insert"])
def test_an_intake_that_fails_halfway_leaves_no_case_and_gives_its_number_back(
        world: World, monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    first = open_complaint(world)
    stored = everything(world)
    seen = fail_at(monkeypatch, point)

    with pytest.raises(Boom):
        open_complaint(world)

    assert seen.row is not None
    number = seen.row[0]  # the number the failed intake had taken
    assert number == "KS-2026-03-0002" and number != first.number
    assert everything(world) == stored  # no case, clock, signature, entry or used number
    with pytest.raises(CaseNotFound):
        world.service.read_case(number)
    assert chain_breaks(world) == []

    monkeypatch.undo()
    assert open_complaint(world).number == number  # the next intake gets it: no gap
    assert chain_breaks(world) == []



def test_a_database_error_names_the_statement_but_never_its_values(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'errors.sqlite3'}")
    person = {"name": "王芳 13800138000"}
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE people (name TEXT NOT NULL UNIQUE)"))
            connection.execute(text("INSERT INTO people VALUES (:name)"), person)
        with pytest.raises(DBAPIError) as failed, engine.begin() as connection:
            connection.execute(text("INSERT INTO people VALUES (:name)"), person)
        assert "UNIQUE constraint failed" in str(failed.value)
        assert "13800138000" not in str(failed.value)  # a customer's telephone number
    finally:
        engine.dispose()


def test_a_pooled_connection_the_server_dropped_while_idle_is_replaced_before_use(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    if world.database.backend != "postgresql":
        pytest.skip("SQLite has no server to drop a connection")
    engine = connect(world.database.url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        # The server ends the pooled connection (a restart, an idle timeout) while nobody uses
        # it; ``IDLE_CHECK`` 0 makes any pause count as idle.
        with world.database.engine.connect() as other:
            other.execute(text(f"SELECT pg_terminate_backend({pid})"))
        monkeypatch.setattr(db, "IDLE_CHECK", 0.0)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
        # A connection in steady use is not checked (no round trip before each transaction):
        # dropped between two uses a moment apart, the next use fails once, and the pool
        # replaces it for the one after.
        with engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with world.database.engine.connect() as other:
            other.execute(text(f"SELECT pg_terminate_backend({pid})"))
        monkeypatch.setattr(db, "IDLE_CHECK", 3600.0)
        with pytest.raises(DBAPIError) as dropped, engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert dropped.value.connection_invalidated
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()
