"""The deadline sweep: run every warning and breach that is due, exactly once, on any number of
machines at once.

One pass reads which cases have a clock that reached its warning or due time (the indexed
``case_clocks`` mirror), then claims them in batches, one transaction per batch, and lets
:meth:`CaseService.escalate_row` escalate each claimed case in that transaction: the engine
decides from the case's own clocks, so a warning or breach already done is never done again.
A closed case is claimed only for a clock that runs after the close (``case_clocks.after_close``,
migration 0003), and only such a clock is escalated on it.

Why each escalation happens once, whatever runs at the same time:

* A claim locks the case rows (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two
  sweepers never hold the same case: the second skips it and goes on with other cases.
* The candidate list is read before the claim, so it may be stale: another sweeper may have
  escalated a case since. The claim tests again that a clock is due, and under READ COMMITTED
  a row whose lock had to wait is re-checked (the ``cases`` conditions) and returned as its
  newest committed version; the clock condition of the sub-query is not re-checked then, so the
  last word is the engine's: it reads the ``warned`` and ``breached`` flags from the locked
  row's own data, which nobody else can change before this transaction ends.
* No global lock: steps and sweep batches chain audit entries per case and take their ids from
  a sequence (the sealer orders them globally afterwards, see :mod:`.audit`), so several
  sweepers, and people's steps, write at the same time; a person's step waits only for a case
  a batch holds.
* SQLite has no row locks: every transaction takes the database's write lock when it begins
  (``BEGIN IMMEDIATE``, see :mod:`.db`), so batches run one after the other and a plain
  selection inside the batch's transaction already reads the current rows.

A case the engine cannot escalate at all (its definition version does not load, its stored
data does not fit its version, the database refuses its write) is reported in
:attr:`SweepResult.failures` with the reason, and in the log; the other cases of its batch are
escalated and the failed case stays due, so the next sweep tries it again. A batch is
escalated first and written after: every case's row, clocks and audit entries in one statement
on PostgreSQL (:func:`.store.update_cases`), without savepoints; when anything fails, the
batch is rolled back and run again with a savepoint per case, each case written on its own, so
that only the failed case's writes are undone. A definition version that does not load is found
before any write, and fails its cases without a second run. An action that fails inside an
escalation (a ``set`` whose expression fails) is not such a failure: the engine records it in
the case's audit trail as ``escalation_failed``.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..errors import QmsflowError
from . import outbox, store
from .models import CaseClock, CaseRow

if TYPE_CHECKING:
    from ..events import Outcome
    from .service import CaseService

# Cases per transaction. Throughput is the same from 20 to 500 (measured); a smaller batch
# holds its case rows for less time, so a person's step waits less behind a sweep.
DEFAULT_BATCH = 50
# A claim looks this many batches ahead in the candidate list: when other sweepers took the
# cases at its front, one claim still finds a full batch instead of one query per batch taken.
LOOKAHEAD = 4

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    """A case the sweep could not escalate, and why; it stays due for the next sweep."""

    number: str
    reason: str


@dataclass(frozen=True)
class SweepResult:
    """What one sweep did.

    ``escalated`` cases were changed (each with its audit entries); ``warnings`` and
    ``breaches`` count the clock levels run; ``action_errors`` the actions that failed and were
    recorded as ``escalation_failed`` audit entries; ``already_done`` the claimed cases that had
    nothing left to do (another sweeper had just escalated them); ``failures`` the cases that
    could not be escalated at all.
    """

    escalated: int = 0
    warnings: int = 0
    breaches: int = 0
    batches: int = 0
    action_errors: int = 0
    already_done: int = 0
    failures: tuple[Failure, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every due case could be escalated."""
        return not self.failures

    def summary(self) -> str:
        """One line for a log or a terminal."""
        line = (f"{self.escalated} case(s) escalated in {self.batches} batch(es): "
                f"{self.warnings} warning(s), {self.breaches} breach(es)")
        if self.action_errors:
            line += f", {self.action_errors} action(s) failed (in the audit trail)"
        if self.already_done:
            line += f", {self.already_done} already done by another sweep"
        return line + f"; {len(self.failures)} case(s) could not be escalated"


@dataclass
class _Tally:
    """The counts of a sweep in progress."""

    escalated: int = 0
    warnings: int = 0
    breaches: int = 0
    batches: int = 0
    action_errors: int = 0
    already_done: int = 0
    failures: list[Failure] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.escalated + len(self.failures)

    def add(self, other: _Tally) -> None:
        self.escalated += other.escalated
        self.warnings += other.warnings
        self.breaches += other.breaches
        self.batches += other.batches
        self.action_errors += other.action_errors
        self.already_done += other.already_done
        self.failures += other.failures

    def count(self, outcome: Outcome) -> None:
        if not outcome.events:
            self.already_done += 1
            return
        self.escalated += 1
        for event in outcome.events:
            self.warnings += event.kind == "clock_warning"
            self.breaches += event.kind == "clock_breach"
            self.action_errors += event.kind == "escalation_failed"

    def fail(self, row: CaseRow, reason: str) -> None:
        log.warning("deadline sweep: case %s not escalated: %s", row.number, reason)
        self.failures.append(Failure(row.number, reason))

    def result(self) -> SweepResult:
        return SweepResult(self.escalated, self.warnings, self.breaches, self.batches,
                           self.action_errors, self.already_done, tuple(self.failures))


def due(now: datetime) -> ColumnElement[bool]:
    """A ``case_clocks`` row whose warning or breach is due at ``now`` and not yet done.

    Each half matches one of the sweep indexes (status, flag, time).
    """
    return and_(CaseClock.status == "running", or_(
        and_(CaseClock.warned.is_(False), CaseClock.warn_at <= now),
        and_(CaseClock.breached.is_(False), CaseClock.due_at <= now)))


def candidates(session: Session, now: datetime) -> list[int]:
    """The ids of the cases with a clock due at ``now``, ascending (not locked: a hint).

    Sorted here rather than by the database: ordered by case id, PostgreSQL walks the whole
    clock table in key order instead of using the sweep indexes.
    """
    found = session.execute(select(CaseClock.case_id).where(due(now)).distinct()).scalars()
    return sorted(found)


def _claim(session: Session, ids: list[int], size: int, now: datetime) -> list[CaseRow]:
    """Lock up to ``size`` of the cases ``ids`` that still have a clock due (on a closed case,
    a clock that runs after the close), lowest id first, skipping cases another transaction
    holds (PostgreSQL); their rows as they are now."""
    still_due = exists().where(CaseClock.case_id == CaseRow.id, due(now), or_(
        CaseRow.closed_at.is_(None), CaseClock.after_close.is_(True)))
    query = (select(CaseRow)
             .where(CaseRow.id.in_(ids), CaseRow.voided_at.is_(None), still_due)
             .order_by(CaseRow.id).limit(size)
             .execution_options(populate_existing=True))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=CaseRow)
    return list(session.execute(query).scalars())


class _RunAgain(QmsflowError):
    """A case failed in a batch run without savepoints: run the batch again with them."""


def _reason(error: BaseException) -> str:
    lines = str(error).strip().splitlines() or [type(error).__name__]
    more = f" (and {len(lines) - 1} more line(s))" if len(lines) > 1 else ""
    return lines[0] + more


def _escalate(service: CaseService, session: Session, row: CaseRow, now: datetime,
              tally: _Tally, broken: dict[str, str], careful: bool) -> None:
    """Escalate one claimed case, or record why it cannot be (``careful``: in a savepoint;
    otherwise a failure raises _RunAgain)."""
    if row.voided_at is not None:
        return  # the claim excludes them; this only keeps that promise visible here
    # A closed case is claimed only for a clock that runs after the close, and the engine
    # escalates only such clocks on it.
    if row.version not in broken:
        try:
            # Resolved first (cached once compiled): a version that does not load fails
            # every case on it the same way, and is tried once per sweep, not once per case.
            service.versions.get(session, row.version)
        except DBAPIError:
            raise  # the database, not the version: the batch rolls back
        except Exception as error:  # not loading, whatever the cause, fails only its cases
            broken[row.version] = (f"its definition version {row.version[:12]} cannot be "
                                   f"loaded: {_reason(error)}")
    if row.version in broken:
        tally.fail(row, broken[row.version])
        return
    try:
        if careful:
            with session.begin_nested():  # a failure undoes this case's writes only
                outcome = service.escalate_row(session, row, now)
        else:
            outcome = service.escalate_row(session, row, now)
    except DBAPIError as error:
        if error.connection_invalidated:
            raise  # the database is gone, not this case: the batch rolls back
        reason = f"the database refused its escalation: {_reason(error.orig or error)}"
    except Exception as error:  # whatever it is, one case must never stop the others
        reason = f"{type(error).__name__}: {_reason(error)}"
    else:
        tally.count(outcome)
        return
    if not careful:
        raise _RunAgain(reason)
    tally.fail(row, reason)


def _escalate_together(service: CaseService, session: Session, rows: list[CaseRow],
                       now: datetime, tally: _Tally, broken: dict[str, str]) -> None:
    """Escalate a batch's cases, then write them all at once (one statement on PostgreSQL,
    and one for their notifications); any failure raises _RunAgain, so the batch runs again
    case by case."""
    deferred: list[store.CaseWrite] = []
    notices: list[dict[str, Any]] = []
    session.info[store.DEFERRED_WRITES] = deferred
    session.info[outbox.DEFERRED_ROWS] = notices
    try:
        for row in rows:
            _escalate(service, session, row, now, tally, broken, careful=False)
    finally:
        del session.info[store.DEFERRED_WRITES], session.info[outbox.DEFERRED_ROWS]
    try:
        store.update_cases(session, deferred)
        outbox.write_rows(session, notices)
    except DBAPIError as error:
        if error.connection_invalidated:
            raise  # the database is gone: the batch rolls back
        raise _RunAgain(_reason(error.orig or error)) from error
    except Exception as error:  # run case by case, the failure is put down to its case
        raise _RunAgain(_reason(error)) from error


def sweep(service: CaseService, *, batch: int = DEFAULT_BATCH,
          limit: int | None = None) -> SweepResult:
    """Escalate every case with a clock due now: its warning and breach actions, each once.

    Claims ``batch`` cases per transaction; stops after ``limit`` cases escalated or failed
    (no limit: every case due when the sweep started). Safe to run on several machines at
    once against one PostgreSQL database: each case is escalated by one of them. Cases that
    another transaction holds are left for the next sweep, so run it again and again (the
    worker does).
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must not be negative, not {limit}")
    tally = _Tally()
    broken: dict[str, str] = {}  # definition versions that do not load -> why
    with service.transaction() as session:
        ids = candidates(session, service.now())
    position = 0
    careful = False
    while position < len(ids) and (limit is None or tally.handled < limit):
        size = batch if limit is None else min(batch, limit - tally.handled)
        window = ids[position:position + size * LOOKAHEAD]
        done = _Tally()  # this batch's counts: they stand only once it is committed
        try:
            with service.transaction() as session:
                now = service.now()
                rows = _claim(session, window, size, now)
                if careful:
                    for row in rows:
                        _escalate(service, session, row, now, done, broken, careful)
                else:
                    _escalate_together(service, session, rows, now, done, broken)
        except _RunAgain:
            careful = True  # rolled back: the same window again, a savepoint per case
            continue
        careful = False
        done.batches = bool(rows)
        tally.add(done)
        if len(rows) < size:
            # Every case of the window that is still due and free was in this batch.
            position += len(window)
        else:
            position = bisect.bisect_right(ids, rows[-1].id, lo=position)
    return tally.result()
