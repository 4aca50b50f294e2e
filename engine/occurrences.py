"""When scheduled work falls due: pure computation from entry values, a calendar and a window.

An entry's due dates count from its anchor (or the schedule's fixed start) in whole months:
every due date is the anchor plus a number of months, on the anchor's day of the month or on
the month's last day when it is shorter (accepted Jan 31: Apr 30, Jul 31, Oct 31; never
drifting to the 30th). Each next date is given by the first spacing of ``every`` whose
condition holds for the date it would give (3 months while ``due <= warranty_end``, then 6
months), so the spacing changes where the condition changes. A date is an *occurrence* when the
schedule's ``when`` holds for it and, with ``recent_cases``, a case naming the entry was closed
in the days up to it. It opens on the date itself when the organisation works that day, else
on its next working day (a visit due on National Day opens after the holiday, on a make-up
working Saturday if there is one).

The persistence layer gives the entries and the recent closings, and records which
occurrences were opened; nothing here reads a database or the time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from .calendar import BusinessCalendar, add_months
from .expressions import EvaluationError, Expression
from .model import Schedule

#: A schedule that never moves on (every spacing's condition false) stops; this bounds a
#: walk over a century of monthly dates as well.
MAX_STEPS = 2400
#: No organisation closes longer than this: a due date finds a working day within it.
LONGEST_CLOSURE = 366
#: The years a month may be asked for: scheduled work is counted back and ahead of it.
FIRST_YEAR, LAST_YEAR = 1900, 9000


@dataclass(frozen=True, order=True)
class Occurrence:
    """One case a schedule opens: for the entry ``key``, due on ``due`` and opened on the
    working day ``opens_on`` (``due`` itself, or the next working day)."""

    opens_on: date
    schedule: str
    key: str
    due: date


def working_day_from(calendar: BusinessCalendar, day: date) -> date:
    """``day`` when the calendar works on it, else the next working day."""
    for offset in range(LONGEST_CLOSURE):
        candidate = day + timedelta(days=offset)
        if calendar.is_working_day(candidate):
            return candidate
    return day  # a calendar with no working day at all: the date as it is


def _holds(expression: Expression | None, context: Mapping[str, Any]) -> bool:
    # A condition that cannot be judged (a warranty end not recorded yet) does not hold: no
    # case is opened on a guess.
    if expression is None:
        return True
    try:
        return expression.test(context)
    except EvaluationError:
        return False


def due_dates(schedule: Schedule, key: str, values: Mapping[str, Any],
              until: date) -> Iterator[date]:
    """The entry's due dates up to ``until``, before ``when`` and the calendar apply."""
    anchor = values.get(schedule.anchor) if schedule.anchor else schedule.start
    if not isinstance(anchor, date):
        return  # no acceptance date yet: nothing is due
    context = {**values, "key": key}
    months = 0
    for _ in range(MAX_STEPS):
        for interval in schedule.every:
            candidate = add_months(anchor, months + interval.months)
            if _holds(interval.when, {**context, "due": candidate}):
                break
        else:
            return  # no spacing applies any more
        if candidate > until:
            return
        months += interval.months
        yield candidate


def occurrences(schedule: Schedule, entries: Mapping[str, Mapping[str, Any]],
                calendar: BusinessCalendar, first: date, last: date,
                closings: Mapping[str, Sequence[date]] | None = None) -> list[Occurrence]:
    """The occurrences of ``schedule`` that open from ``first`` to ``last`` (both included),
    by opening day, entry and due date.

    ``entries``: entry key to its typed values. ``closings``: with ``recent_cases``, the
    days on which cases naming each entry were closed (an entry absent has none).
    """
    found = []
    for key, values in entries.items():
        context = {**values, "key": key}
        for due in due_dates(schedule, key, values, last):
            opens_on = working_day_from(calendar, due)
            if not first <= opens_on <= last or not _holds(schedule.when,
                                                           {**context, "due": due}):
                continue
            if schedule.recent is not None and not _recently(
                    (closings or {}).get(key, ()), opens_on, schedule.recent.days):
                continue
            found.append(Occurrence(opens_on, schedule.id, key, due))
    return sorted(found)


def _recently(closed: Sequence[date], day: date, days: int) -> bool:
    return any(day - timedelta(days=days) <= when <= day for when in closed)


def month_window(month: str) -> tuple[date, date]:
    """The first and last day of ``month`` (YYYY-MM); ValueError when it is no month."""
    year, _, number = month.partition("-")
    if len(year) != 4 or len(number) != 2 or not (year + number).isascii() or not (
            year + number).isdigit():
        raise ValueError(f"{month!r} is not a month: write YYYY-MM, e.g. 2027-01")
    if not FIRST_YEAR <= int(year) <= LAST_YEAR:
        raise ValueError(f"{month!r} is out of range: from {FIRST_YEAR} to {LAST_YEAR}")
    first = date(int(year), int(number), 1)  # ValueError for month 13
    return first, add_months(first, 1) - timedelta(days=1)


def next_month(today: date) -> tuple[date, date]:
    """The first and last day of the month after ``today``'s."""
    first = add_months(today.replace(day=1), 1)
    return first, add_months(first, 1) - timedelta(days=1)


#: Who opens an occurrence's case, as its audit entries name the actor (with the schedule's id).
SCHEDULER = "qmsflow (schedule)"


def opened_by(schedule_id: str) -> str:
    """The actor's name on the audit entries of the cases ``schedule_id`` opens."""
    return f"{SCHEDULER} {schedule_id}"


def opening_reason(schedule_id: str, register: str, key: str, due: date) -> str:
    """Why an occurrence's case was opened, as its opening audit entry says: the schedule,
    the register entry and the due date (``audit verify`` holds the occurrence's row to it)."""
    return f"scheduled work '{schedule_id}': {register} '{key}', due {due.isoformat()}"


def case_inputs(schedule: Schedule, key: str, values: Mapping[str, Any],
                due: date) -> dict[str, Any]:
    """What the start step of an occurrence's case is given: the entry's key in the entry
    field (whose copies then apply) and each of ``values`` computed from the entry.

    Raises EvaluationError when an expression cannot be computed for this entry.
    """
    context = {**values, "key": key, "due": due}
    inputs: dict[str, Any] = {schedule.entry_field: key}
    for name, expression in schedule.values.items():
        value = expression.evaluate(context)
        # Dates go in as a form would send them: the start step checks and converts them.
        inputs[name] = value.isoformat() if isinstance(value, date) else value
    return inputs
