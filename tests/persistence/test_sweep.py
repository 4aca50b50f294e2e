"""The deadline sweep: every due warning and breach runs once, with its audit entries, whatever
else runs at the same time (other sweepers, people's steps, a sweeper killed halfway).

Every test runs on SQLite and on PostgreSQL unless it says why not. Time moves with the
world's fixed clock; the command-line sweeps run on the real clock, later than every deadline
the fixed clock set.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, event, func, insert, select, text, update
from sqlalchemy.orm import Session

from qmsflow.cli import main
from qmsflow.engine.loader import load
from qmsflow.engine.persistence import audit, outbox, store, versions
from qmsflow.engine.persistence.db import connect, session_factory
from qmsflow.engine.persistence.models import (
    AuditEvent,
    CaseClock,
    CaseRow,
    DefinitionVersion,
)
from qmsflow.engine.persistence.service import SWEEP, CaseService
from qmsflow.engine.persistence.sweep import SweepResult, sweep

from ..conftest import DEFAULT_SET, ROOT
from .conftest import AUDIT_KEYS, CHEAP, Database, World, to_investigation, unguard
from .test_versions import SHORTER_CLOSURE, publish, service_on

QMSFLOW = ROOT / ".venv" / "bin" / "qmsflow"
WAIT = 120  # seconds before a wait fails the test instead of hanging it
LEVELS = ("clock_warning", "clock_breach")


# -- helpers -----------------------------------------------------------------------------------

def clocks_of(world: World, number: str) -> dict[str, Any]:
    """The case's clocks that still run or are paused (a stopped one, such as the complaint's
    response clock once it was screened, is history the sweep never touches)."""
    return {cid: c for cid, c in world.service.read_case(number, history=False).case.clocks.items()
            if c.status != "stopped"}


def past_every_deadline(world: World, number: str) -> None:
    """Move the world's clock an hour past the last due time of the case's clocks."""
    world.clock.now = max(c.due_at for c in clocks_of(world, number).values()) + timedelta(
        hours=1)


def escalations(session: Session) -> Counter[tuple[str | None, str | None, str]]:
    """How many warning and breach entries each (case, clock) has, by level."""
    return Counter(session.execute(
        select(AuditEvent.case_number, AuditEvent.field, AuditEvent.action)
        .where(AuditEvent.action.in_(LEVELS))).all())


def level_counts(world: World, number: str) -> Counter[tuple[str | None, str]]:
    """How many warning and breach entries each clock of case ``number`` has."""
    with world.database.sessions() as session:
        return Counter(session.execute(select(AuditEvent.field, AuditEvent.action).where(
            AuditEvent.case_number == number, AuditEvent.action.in_(LEVELS))).all())


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.02)


def chains_intact(database: Database) -> int:
    """audit.verify finds no break; the number of entries checked."""
    with database.sessions() as session:
        count, breaks = audit.verify(session)
    assert [str(b) for b in breaks] == []
    return count


def clone(database: Database, numbers: list[str], copies: int) -> list[int]:
    """``copies`` copies of each case ``numbers`` with their clocks, in bulk; the new ids.

    A copy has its own number and no audit entries yet (its chain starts at the genesis), so
    the audit chains verify after the sweep writes the copies' escalations.
    """
    with database.sessions.begin() as session:
        templates = session.execute(select(CaseRow).where(CaseRow.number.in_(numbers))
                                    ).scalars().all()
        columns = [c.key for c in CaseRow.__table__.columns if c.key != "id"]
        rows = [{**{name: getattr(t, name) for name in columns},
                 "number": f"{t.number}-{n:05d}", "audit_count": 0,
                 "audit_hash": audit.GENESIS} for n in range(copies) for t in templates]
        returning = insert(CaseRow).returning(CaseRow.id, sort_by_parameter_order=True)
        ids = list(session.execute(returning, rows).scalars())
        clocks = {t.id: session.execute(select(CaseClock).where(CaseClock.case_id == t.id)
                                        ).scalars().all() for t in templates}
        clock_columns = [c.key for c in CaseClock.__table__.columns if c.key != "case_id"]
        source = [t.id for _ in range(copies) for t in templates]
        session.execute(insert(CaseClock), [
            {"case_id": new, **{name: getattr(k, name) for name in clock_columns}}
            for new, old in zip(ids, source, strict=True) for k in clocks[old]])
    return ids


@dataclass(frozen=True)
class Backlog:
    """Many copies of a few due cases: what the sweep should find, and the state before."""

    ids: list[int]
    clocks: int  # (case, clock) pairs, each due to warn and to breach
    row_versions: dict[int, int]


def backlog(world: World, templates: int, cases: int) -> Backlog:
    """``cases`` complaints in investigation (two clocks each): ``templates`` taken there
    through the service, the rest copies of them."""
    numbers = [to_investigation(world) for _ in range(templates)]
    copies = clone(world.database, numbers, cases // templates - 1)
    with world.database.sessions() as session:
        ids = [*session.execute(select(CaseRow.id).where(CaseRow.number.in_(numbers))
                                ).scalars(), *copies]
        clocks = session.execute(select(func.count()).select_from(CaseClock).where(
            CaseClock.case_id.in_(ids), CaseClock.status == "running")).scalar_one()
        versions_before = {case_id: version for case_id, version in session.execute(
            select(CaseRow.id, CaseRow.row_version).where(CaseRow.id.in_(ids)))}
    past_every_deadline(world, numbers[0])
    return Backlog(ids, clocks, versions_before)


def assert_each_escalated_once(world: World, due: Backlog) -> None:
    """Every (case, clock) of the backlog warned and breached once; every case written once."""
    with world.database.sessions() as session:
        numbers = {case_id: number for case_id, number in session.execute(
            select(CaseRow.id, CaseRow.number).where(CaseRow.id.in_(due.ids)))}
        counted = escalations(session)
        ours = {key: n for key, n in counted.items() if key[0] in set(numbers.values())}
        assert len(ours) == 2 * due.clocks
        assert set(ours.values()) == {1}
        rows = session.execute(select(CaseRow.id, CaseRow.row_version, CaseRow.flags,
                                      CaseRow.priority).where(CaseRow.id.in_(due.ids))).all()
        # One escalation, one write: the row version moved on by exactly one.
        assert {row.row_version - due.row_versions[row.id] for row in rows} == {1}
        assert all("overdue" in row.flags and row.priority == "high" for row in rows)
        flagged = session.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "flags_changed", AuditEvent.actor_name == SWEEP,
            AuditEvent.case_number.in_(numbers.values()))).scalar_one()
        assert flagged == len(due.ids)
        left = session.execute(select(func.count()).select_from(CaseClock).where(
            CaseClock.case_id.in_(due.ids), CaseClock.status == "running",
            (CaseClock.warned.is_(False)) | (CaseClock.breached.is_(False)))).scalar_one()
        assert left == 0


def total(results: list[SweepResult]) -> tuple[int, int, int]:
    return (sum(r.escalated for r in results), sum(r.warnings for r in results),
            sum(r.breaches for r in results))


# -- what one sweep does ---------------------------------------------------------------------

def test_a_due_warning_and_then_a_breach_run_their_actions_once_recorded_as_the_sweep(
        world: World) -> None:
    number = to_investigation(world)
    clocks = clocks_of(world, number)
    first = min(clocks.values(), key=lambda c: c.warn_at)
    world.clock.now = first.warn_at + timedelta(minutes=1)

    warned = sweep(world.service)

    assert (warned.escalated, warned.warnings, warned.breaches, warned.batches) == (1, 1, 0, 1)
    assert warned.failures == () and warned.ok
    assert level_counts(world, number) == {(first.id, "clock_warning"): 1}
    assert sweep(world.service) == SweepResult()  # nothing left to do at this time

    past_every_deadline(world, number)
    before = world.service.read_case(number, history=False).case
    breached = sweep(world.service)

    assert (breached.escalated, breached.warnings, breached.breaches) == (1, len(clocks) - 1,
                                                                          len(clocks))
    history = world.service.read_case(number)
    assert level_counts(world, number) == {(cid, level): 1 for cid in clocks for level in LEVELS}
    # The definition's breach actions: a flag, a higher priority, notifications.
    assert "overdue" in history.case.flags and "overdue" not in before.flags
    assert history.case.priority == "high" != before.priority
    assert history.case.row_version == before.row_version + 1
    swept = [e for e in history.events if e.at == world.clock.now]
    assert {e.actor_name for e in swept} == {SWEEP} and {e.client for e in swept} == {"sweep"}
    assert {"clock_breach", "flags_changed", "priority_changed", "notify"} <= {
        e.action for e in swept}
    assert all(history.case.clocks[cid].warned and history.case.clocks[cid].breached
               for cid in clocks)
    world.clock.advance(days=30)
    assert sweep(world.service) == SweepResult()
    chains_intact(world.database)


def test_a_paused_clock_is_not_escalated_however_late(world: World) -> None:
    number = to_investigation(world)
    world.service.apply_step(number, "wait_for_customer", world.user("quality"),
                               {"waiting_reason": "补充批号照片"})
    world.clock.advance(days=60)

    assert sweep(world.service) == SweepResult()
    assert level_counts(world, number) == {}
    assert {c.status for c in clocks_of(world, number).values()} == {"paused"}


def test_closed_and_voided_cases_are_never_escalated(world: World) -> None:
    voided, closed, open_ = (to_investigation(world) for _ in range(3))
    world.service.void_case(voided, world.user("quality_manager"), "重复登记")
    # A closing step stops the clocks; closed here in SQL with its clocks left running, to see
    # that the sweep goes by the case, not only by its clocks.
    with world.database.sessions.begin() as session:
        session.execute(update(CaseRow).where(CaseRow.number == closed)
                        .values(closed_at=world.clock()))
    past_every_deadline(world, open_)

    result = sweep(world.service)

    assert (result.escalated, result.failures) == (1, ())
    assert level_counts(world, voided) == level_counts(world, closed) == {}
    assert level_counts(world, open_)


def test_batches_and_the_limit_count_cases(world: World) -> None:
    numbers = [to_investigation(world) for _ in range(5)]
    past_every_deadline(world, numbers[0])

    first = sweep(world.service, batch=2, limit=3)
    rest = sweep(world.service, batch=2)

    assert (first.escalated, first.batches) == (3, 2)
    assert (rest.escalated, rest.batches) == (2, 1)
    assert all(level_counts(world, n) for n in numbers)
    with pytest.raises(ValueError, match="batch") as raised:
        sweep(world.service, batch=0)
    assert "at least 1" in str(raised.value)


def test_a_batch_of_healthy_cases_is_written_together_and_never_retried_case_by_case(
        world: World) -> None:
    # A batch runs again case by case, each in a savepoint, only when one of its cases
    # fails; a batch whose write itself breaks would be retried silently and run slowly.
    numbers = [to_investigation(world) for _ in range(4)]
    past_every_deadline(world, numbers[0])
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(" ".join(statement.split()[:2]).upper())

    event.listen(world.database.engine, "before_cursor_execute", record)
    try:
        result = sweep(world.service, batch=4)
    finally:
        event.remove(world.database.engine, "before_cursor_execute", record)

    assert (result.escalated, result.batches, result.failures) == (4, 1, ())
    assert not [s for s in sent if s.startswith(("SAVEPOINT", "ROLLBACK TO"))]
    assert all(level_counts(world, n) for n in numbers)


def test_a_case_whose_definition_version_does_not_load_is_reported_and_the_others_go_on(
        world: World, edited_set: Any) -> None:
    shorter = publish(world, edited_set(SHORTER_CLOSURE))
    stranded = to_investigation(replace(world, service=service_on(world, shorter)))
    fine = to_investigation(world)
    unguard(world.database, "definition_versions")
    with world.database.sessions.begin() as session:
        stored = session.get(DefinitionVersion, shorter.version)
        assert stored is not None
        broken = {name: "states: [" if name.endswith("set.yaml") else content
                  for name, content in stored.files.items()}
        stored.files = broken  # altered behind qmsflow's back: the version no longer loads
    past_every_deadline(world, fine)

    result = sweep(world.service)

    assert result.escalated == 1 and not result.ok
    assert [f.number for f in result.failures] == [stranded]
    assert f"definition version {shorter.version[:12]} cannot be loaded" in (
        result.failures[0].reason)
    assert level_counts(world, fine) and level_counts(world, stranded) == {}
    again = sweep(world.service)  # still due: tried again, and reported again
    assert (again.escalated, [f.number for f in again.failures]) == (0, [stranded])


def test_a_case_that_fails_halfway_is_rolled_back_alone_and_the_batch_goes_on(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = [to_investigation(world) for _ in range(3)]
    doomed = numbers[1]
    past_every_deadline(world, doomed)
    written = store.update_cases

    def write_then_fail(session: Session, writes: list[store.CaseWrite]) -> None:
        written(session, writes)  # the cases and their entries are in: now the failure
        if doomed in {write.number for write in writes}:
            raise RuntimeError("disk full")

    monkeypatch.setattr(store, "update_cases", write_then_fail)
    result = sweep(world.service)

    assert result.escalated == 2
    assert [(f.number, f.reason) for f in result.failures] == [(doomed, "RuntimeError: disk full")]
    assert level_counts(world, doomed) == {}
    assert not any(c.warned for c in clocks_of(world, doomed).values())
    monkeypatch.undo()
    chains_intact(world.database)
    assert sweep(world.service).escalated == 1  # the next sweep does it


# -- the command -----------------------------------------------------------------------------

def run_cli(database: Database, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["sweep", *args], env={
        "DATABASE_URL": database.url, "QMSFLOW_DEFINITIONS": str(DEFAULT_SET)})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def test_the_sweep_command_prints_one_summary_line(world: World) -> None:
    for _ in range(3):
        to_investigation(world)  # deadlines in March 2026: long past on the real clock

    status, out, err = run_cli(world.database, "--batch", "2")

    assert (status, err) == (0, "")
    assert out.startswith("sweep: 3 case(s) escalated in 2 batch(es): 6 warning(s), "
                          "6 breach(es); 0 case(s) could not be escalated; ")
    sealed = int(out.split("; ")[-1].split()[0])
    assert sealed > 12 and " audit entries sealed (" in out  # the steps' and the sweep's
    assert len(out.splitlines()) == 1
    status, out, err = run_cli(world.database)
    assert (status, err) == (0, "")
    assert out.startswith("sweep: 0 case(s) escalated in 0 batch(es): 0 warning(s), "
                          "0 breach(es); 0 case(s) could not be escalated; 0 audit entries "
                          "sealed (")


def test_the_sweep_command_names_each_case_it_could_not_escalate_and_exits_1(
        world: World, edited_set: Any) -> None:
    shorter = publish(world, edited_set(SHORTER_CLOSURE))
    stranded = to_investigation(replace(world, service=service_on(world, shorter)))
    to_investigation(world)
    unguard(world.database, "definition_versions")
    with world.database.sessions.begin() as session:
        session.execute(update(DefinitionVersion).where(
            DefinitionVersion.hash == shorter.version).values(files={}))

    status, out, err = run_cli(world.database, "--limit", "5")

    assert status == 1
    assert out.startswith("sweep: 1 case(s) escalated in 1 batch(es)")
    assert "; 1 case(s) could not be escalated" in out
    [line] = err.splitlines()
    assert line.startswith(f"{stranded}: not escalated: its definition version "
                           f"{shorter.version[:12]} cannot be loaded: ")


def test_the_sweep_command_refuses_a_batch_of_zero(world: World) -> None:
    status, _, err = run_cli(world.database, "--batch", "0")
    assert status == 2 and "--batch" in err


def test_the_sweep_command_on_a_database_without_schema_says_what_to_run(
        tmp_path: Path) -> None:
    blank = tmp_path / "blank.sqlite3"
    blank.touch()
    result = CliRunner().invoke(main, ["sweep"], env={
        "DATABASE_URL": f"sqlite:///{blank}", "QMSFLOW_DEFINITIONS": str(DEFAULT_SET)})
    assert result.exit_code == 1
    assert "run 'qmsflow db upgrade' first" in result.stderr
    assert "Traceback" not in result.output


# -- concurrency (PostgreSQL: row locks; SQLite writers queue at BEGIN) -----------------------

POSTGRESQL = pytest.mark.parametrize("database", ["postgresql"], indirect=True)


def activity(database: Database, condition: str) -> int:
    """How many other connections to the test's database match ``condition``."""
    with database.engine.connect() as connection:
        return connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            f"AND pid <> pg_backend_pid() AND {condition}")).scalar_one()


@POSTGRESQL
def test_a_sweep_skips_a_case_a_step_holds_and_then_leaves_the_clock_it_paused(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The step has written the case row and its audit entries, and not committed: the sweep neither
    waits for it nor escalates the case behind its back; the step's pause then stands."""
    number = to_investigation(world)
    world.clock.advance(days=30)
    row_held, go_on = threading.Event(), threading.Event()
    enqueue = outbox.enqueue
    stepper: list[int] = []

    def pause_after_the_write(*args: Any, **kwargs: Any) -> None:
        if threading.get_ident() in stepper:  # the case row is locked until the step commits
            row_held.set()
            assert go_on.wait(WAIT)
        enqueue(*args, **kwargs)

    monkeypatch.setattr(outbox, "enqueue", pause_after_the_write)

    def step() -> None:
        stepper.append(threading.get_ident())
        world.service.apply_step(number, "wait_for_customer", world.user("quality"),
                                   {"waiting_reason": "补充批号照片"})

    with ThreadPoolExecutor(max_workers=1) as pool:
        stepping = pool.submit(step)
        assert row_held.wait(WAIT)
        result = sweep(world.service)  # no lock waited for: it would hang here
        go_on.set()
        stepping.result(timeout=WAIT)

    assert result == SweepResult()
    assert sweep(world.service) == SweepResult()
    assert level_counts(world, number) == {}
    assert {c.status for c in clocks_of(world, number).values()} == {"paused"}


def sweeper(url: str, now: datetime, batch: int, start: Any) -> SweepResult:
    """One sweeper process: its own engine and service, released with the others at once."""
    engine = connect(url)
    service = CaseService(session_factory(engine, AUDIT_KEYS), versions.Versions(),
                          load(DEFAULT_SET), lambda: now, CHEAP)
    start.wait(WAIT)
    try:
        return sweep(service, batch=batch)
    finally:
        engine.dispose()


@pytest.mark.slow
@POSTGRESQL
def test_four_sweepers_in_parallel_escalate_ten_thousand_clocks_each_exactly_once(
        world: World) -> None:
    due = backlog(world, templates=5, cases=5000)
    assert (len(due.ids), due.clocks) == (5000, 10_000)
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, ProcessPoolExecutor(4, mp_context=spawn) as pool:
        start = manager.Barrier(4)
        runs = [pool.submit(sweeper, world.database.url, world.clock(), 50, start)
                for _ in range(4)]
        results = [run.result(timeout=600) for run in runs]

    assert all(r.ok for r in results)
    assert total(results) == (5000, 10_000, 10_000)
    assert sum(1 for r in results if r.escalated) >= 2  # they did share the work
    assert_each_escalated_once(world, due)
    chains_intact(world.database)
    assert sweep(world.service) == SweepResult()


@pytest.mark.slow
def test_a_sweeper_killed_in_the_middle_loses_nothing_and_the_next_does_the_rest_once(
        world: World) -> None:
    due = backlog(world, templates=3, cases=1500)  # 3,000 due clocks
    url = world.database.url
    if world.database.backend == "postgresql":
        url += "?application_name=killed_sweeper"
    env = {**os.environ, "DATABASE_URL": url, "QMSFLOW_DEFINITIONS": str(DEFAULT_SET)}
    command = [str(QMSFLOW) if QMSFLOW.exists() else sys.executable, "sweep", "--batch", "20"]
    if not QMSFLOW.exists():
        command[1:1] = ["-m", "qmsflow.cli"]

    # A plain engine: on SQLite, qmsflow's sessions take the write lock to read, and would
    # queue behind the sweeper's batches until it is done.
    watcher = create_engine(world.database.url)

    def breached() -> int:
        with watcher.connect() as connection:
            return connection.execute(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == "clock_breach")).scalar_one()

    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True) as killed:
        try:
            wait_until(lambda: breached() > 0 or killed.poll() is not None,
                       "the sweeper commits its first batch")
            killed.send_signal(signal.SIGKILL)
        finally:
            killed.wait(WAIT)
            watcher.dispose()
        assert killed.returncode == -signal.SIGKILL, killed.stderr.read() if killed.stderr else ""
    if world.database.backend == "postgresql":
        # The server ends the killed client's transaction (and its locks) when it notices.
        wait_until(lambda: activity(world.database,
                                    "application_name = 'killed_sweeper'") == 0,
                   "the server drops the killed sweeper's connection")
    with world.database.sessions() as session:
        written = session.execute(select(CaseRow.id, CaseRow.row_version).where(
            CaseRow.id.in_(due.ids))).all()
    escalated = sum(1 for case_id, version in written if version > due.row_versions[case_id])
    assert 0 < escalated < len(due.ids), "killed too late to be a test: make the backlog larger"
    assert escalated % 20 == 0  # whole batches committed, the one in progress rolled back

    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600,
                              check=False)

    assert finished.returncode == 0, finished.stderr
    assert f"sweep: {len(due.ids) - escalated} case(s) escalated" in finished.stdout
    assert_each_escalated_once(world, due)
    chains_intact(world.database)
