"""Scheduled work: open every due occurrence of the definitions' schedules exactly once, and
say what a month would open.

When occurrences fall is the engine's (:mod:`..occurrences`, from the entries' values, the
organisation's calendar and the closings of recent cases); this module reads those facts,
records what was opened (``scheduled_occurrences``) and opens the cases.

Why each occurrence is opened once, whatever runs at the same time:

* One transaction per occurrence opens the case (through :meth:`.CaseService.open_scheduled`,
  with its number, clocks, notifications and audit entries) and inserts its occurrence row: a
  crash (or ``kill -9``) leaves both or neither, so a restarted worker opens what is missing and
  nothing twice.
* The occurrence row is unique on (schedule, entry key, due date): a second insert fails and
  rolls its own case back with it.
* Before that, the transaction claims the register entry (``SELECT ... FOR UPDATE SKIP
  LOCKED`` on PostgreSQL): a worker never waits for another, it skips the entry the other
  holds and goes on; and once it holds the entry it reads whether the occurrence was opened
  since its candidate list was made (under READ COMMITTED the check sees every committed row).
  SQLite runs one writing transaction at a time (``BEGIN IMMEDIATE``), so the check inside
  the transaction is current there too.

An occurrence the engine refuses (the start step does not accept the values, a value cannot be
computed) is reported with the reason and stays due: the next round tries it again, until it
is more than the schedule's ``catch_up_days`` late.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import QmsflowError
from ..expressions import EvaluationError
from ..model import DefinitionSet, Register, Schedule
from ..occurrences import Occurrence, occurrences
from ..values import from_json
from .models import CaseRow, RegisterEntryRow, ScheduledOccurrence

if TYPE_CHECKING:
    from .service import CaseService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Planned:
    """One occurrence as a person reads it: which schedule opens which process's case for
    which entry, due when, opening on which working day, and the case once it is opened."""

    schedule: str
    process: str
    register: str
    key: str
    title: str | None
    due: date
    opens_on: date
    case_number: str | None = None


@dataclass(frozen=True)
class NotOpened:
    """An occurrence that could not be opened, and why; it stays due for the next round."""

    schedule: str
    key: str
    due: date
    reason: str


@dataclass
class RunResult:
    """What one round of scheduled work did."""

    opened: list[Planned] = field(default_factory=list)
    failures: list[NotOpened] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every due occurrence was opened."""
        return not self.failures

    def summary(self) -> str:
        """One line for logs and the command line."""
        text = f"{len(self.opened)} case(s) opened"
        return text + (f", {len(self.failures)} failed" if self.failures else "")


def local_today(definition: DefinitionSet, now: datetime) -> date:
    """The organisation's date at the moment ``now``."""
    return now.astimezone(ZoneInfo(definition.organisation.timezone)).date()


def _entries(session: Session, register: Register,
             keys: Collection[str] | None = None) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """Key -> (title, typed values) of the register's entries (only ``keys`` when given)."""
    query = select(RegisterEntryRow).where(RegisterEntryRow.register == register.id)
    if keys is not None:
        query = query.where(RegisterEntryRow.key.in_(list(keys)))
    return {row.key: (row.title, {name: from_json(register.fields[name], value)
                                  for name, value in (row.values or {}).items()
                                  if name in register.fields})
            for row in session.execute(query).scalars()}


def _closings(session: Session, definition: DefinitionSet, schedule: Schedule, first: date,
              last: date) -> dict[str, list[date]]:
    """Entry key -> the days cases of the schedule's ``recent_cases`` naming it closed, for
    the occurrences from ``first`` to ``last``."""
    recent = schedule.recent
    if recent is None:
        return {}
    zone = ZoneInfo(definition.organisation.timezone)
    since = datetime.combine(first - timedelta(days=recent.days + 1), datetime.min.time(),
                             zone)
    rows = session.execute(
        select(CaseRow.values[recent.field].as_string(), CaseRow.closed_at).where(
            CaseRow.process == recent.process, CaseRow.closed_at.is_not(None),
            CaseRow.closed_at >= since, CaseRow.voided_at.is_(None))).all()
    named: dict[str, list[date]] = defaultdict(list)
    for key, closed_at in rows:
        if key and closed_at is not None and closed_at.astimezone(zone).date() <= last:
            named[key].append(closed_at.astimezone(zone).date())
    if recent.via is None:
        return dict(named)
    # Through another register: a device's case counts for the device's customer.
    process = definition.process(recent.process)
    target = definition.registers[str(process.fields[recent.field].register)]
    found: dict[str, list[date]] = defaultdict(list)
    for key, (_, values) in _entries(session, target, list(named)).items():
        owner = values.get(recent.via)
        if isinstance(owner, str) and owner:
            found[owner].extend(named[key])
    return dict(found)


def _opened(session: Session, schedule_ids: Iterable[str], first: date, last: date
            ) -> dict[tuple[str, str, date], ScheduledOccurrence]:
    rows = session.execute(select(ScheduledOccurrence).where(
        ScheduledOccurrence.schedule.in_(list(schedule_ids)),
        ScheduledOccurrence.opens_on >= first, ScheduledOccurrence.opens_on <= last)).scalars()
    return {(row.schedule, row.entry_key, row.due_on): row for row in rows}


def _due(session: Session, definition: DefinitionSet, schedule: Schedule, first: date,
         last: date, keys: Collection[str] | None = None
         ) -> tuple[list[Occurrence], dict[str, str | None]]:
    """The schedule's occurrences from ``first`` to ``last``, and each entry's title."""
    register = definition.registers[schedule.register]
    entries = _entries(session, register, keys)
    calendar = definition.calendars[definition.organisation.calendar]
    found = occurrences(schedule, {key: values for key, (_, values) in entries.items()},
                        calendar, first, last, _closings(session, definition, schedule, first,
                                                         last))
    return found, {key: title for key, (title, _) in entries.items()}


def plan(service: CaseService, first: date, last: date) -> list[Planned]:
    """What the schedules open from ``first`` to ``last`` (both included), by opening day:
    what is still to open, and what was opened already with its case number. Opens nothing."""
    definition = service.current
    schedules = definition.schedules
    result = []
    with service.transaction() as session:
        opened = _opened(session, schedules, first, last)
        for schedule in schedules.values():
            found, titles = _due(session, definition, schedule, first, last)
            for occurrence in found:
                row = opened.pop((schedule.id, occurrence.key, occurrence.due), None)
                result.append(Planned(
                    schedule.id, schedule.process, schedule.register, occurrence.key,
                    titles.get(occurrence.key), occurrence.due, occurrence.opens_on,
                    row.case_number if row else None))
        # Opened, though the entry no longer gives that date (its dates were corrected since).
        for row in opened.values():
            schedule = schedules[row.schedule]
            result.append(Planned(row.schedule, schedule.process, row.register, row.entry_key,
                                  None, row.due_on, row.opens_on, row.case_number))
    return sorted(result, key=lambda p: (p.opens_on, p.schedule, p.key, p.due))


def run(service: CaseService, today: date | None = None,
        only: Collection[str] | None = None) -> RunResult:
    """Open every occurrence due by ``today`` (default: the organisation's today), each
    exactly once; ``only``: these schedules (default: all)."""
    definition = service.current
    now = service.now()
    today = today or local_today(definition, now)
    result = RunResult()
    for schedule in definition.schedules.values():
        if only is not None and schedule.id not in only:
            continue
        first = today - timedelta(days=schedule.catch_up_days)
        with service.transaction() as session:
            found, titles = _due(session, definition, schedule, first, today)
            opened = _opened(session, [schedule.id], first, today)
        for occurrence in found:
            if (schedule.id, occurrence.key, occurrence.due) in opened:
                continue
            try:
                number = _open_one(service, schedule, occurrence, now)
            except (QmsflowError, EvaluationError) as error:
                log.warning("scheduled work %s for %s due %s not opened: %s", schedule.id,
                            occurrence.key, occurrence.due, error)
                result.failures.append(NotOpened(schedule.id, occurrence.key, occurrence.due,
                                                 str(error)))
                continue
            except IntegrityError as error:
                if _recorded(service, schedule, occurrence):
                    continue  # another worker opened it between our check and our insert
                result.failures.append(NotOpened(schedule.id, occurrence.key, occurrence.due,
                                                 f"the database refused it: {error.orig}"))
                continue
            if number is not None:
                result.opened.append(Planned(
                    schedule.id, schedule.process, schedule.register, occurrence.key,
                    titles.get(occurrence.key), occurrence.due, occurrence.opens_on, number))
    return result


def _recorded(service: CaseService, schedule: Schedule, occurrence: Occurrence) -> bool:
    """Whether the occurrence has its row (opened by this worker or another)."""
    with service.transaction() as session:
        return _done(session, schedule, occurrence)


def _done(session: Session, schedule: Schedule, occurrence: Occurrence) -> bool:
    return session.execute(select(ScheduledOccurrence.id).where(
        ScheduledOccurrence.schedule == schedule.id,
        ScheduledOccurrence.entry_key == occurrence.key,
        ScheduledOccurrence.due_on == occurrence.due)).first() is not None


def _open_one(service: CaseService, schedule: Schedule, occurrence: Occurrence,
              now: datetime) -> str | None:
    """Open one occurrence's case and record it, in one transaction; None when another
    worker holds the entry or opened the occurrence already."""
    with service.transaction() as session:
        row = session.execute(
            select(RegisterEntryRow).where(RegisterEntryRow.register == schedule.register,
                                           RegisterEntryRow.key == occurrence.key)
            .with_for_update(skip_locked=True)).scalar_one_or_none()
        if row is None:
            return None  # another worker holds it (or it was removed)
        if _done(session, schedule, occurrence):
            return None
        register = service.current.registers[schedule.register]
        values = {name: from_json(register.fields[name], value)
                  for name, value in (row.values or {}).items() if name in register.fields}
        case = service.open_scheduled(session, schedule, occurrence.key, values,
                                      occurrence.due, now)
        session.add(ScheduledOccurrence(
            schedule=schedule.id, register=schedule.register, entry_key=occurrence.key,
            due_on=occurrence.due, opens_on=occurrence.opens_on, case_number=case.number,
            opened_at=now))
        session.flush()
        return case.number

