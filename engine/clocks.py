"""Deadline clocks: start, pause, resume and stop on steps; warning and breach times.

Durations count on a business calendar: working days end at the close of the n-th working day
after the start, working hours are consumed inside the working windows, calendar days and hours
count on the clock. A pause keeps the working time that was left and spends it again from the
resume. A due time that crosses a year without official holiday data carries that year in
``unofficial_years``: flagged, never silently guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from .calendar import BusinessCalendar, Due
from .cases import ClockState
from .expressions import EvaluationError
from .frozen import evolve
from .model import Clock, ClockVariant, DefinitionSet, Duration, Process

ClockView = Literal["running", "warning", "breached", "paused", "stopped"]


def _hours(duration: Duration, calendar: BusinessCalendar) -> float:
    """A working duration in working hours (working days count as full working days)."""
    if duration.unit == "working_days":
        per_day = sum(
            (timedelta(hours=w.end.hour, minutes=w.end.minute, microseconds=w.end.microsecond)
             - timedelta(hours=w.start.hour, minutes=w.start.minute)).total_seconds()
            for w in calendar.spec.windows) / 3600
        return float(duration.amount) * per_day
    return float(duration.amount)


def add(calendar: BusinessCalendar, start: datetime, duration: Duration) -> Due:
    """``start`` plus ``duration`` on ``calendar``."""
    amount = duration.amount
    if duration.unit == "working_days":
        return calendar.add_working_days(start, int(amount))
    if duration.unit == "working_hours":
        return calendar.add_working_hours(start, float(amount))
    span = timedelta(days=float(amount)) if duration.unit == "calendar_days" else timedelta(
        hours=float(amount))
    return Due(start + span, frozenset())


def _warn_at(calendar: BusinessCalendar, start: datetime, due: Due, variant: ClockVariant
             ) -> datetime | None:
    warn = variant.warn_before
    if warn is None:
        return None
    if warn.unit in ("calendar_days", "hours"):
        span = timedelta(days=float(warn.amount)) if warn.unit == "calendar_days" else timedelta(
            hours=float(warn.amount))
        return max(start, due.at - span)
    if warn.unit == "working_days" and variant.duration.unit == "working_days":
        left = int(variant.duration.amount - warn.amount)
        return calendar.add_working_days(start, left).at if left > 0 else start
    total = calendar.working_time_between(start, due.at).total_seconds() / 3600
    left_hours = total - _hours(warn, calendar)
    return calendar.add_working_hours(start, left_hours).at if left_hours > 0 else start


def choose_variant(clock: Clock, context: Mapping[str, Any]) -> ClockVariant | None:
    """The first variant whose condition holds (None when none applies: the clock stays off)."""
    for variant in clock.variants:
        if variant.condition is None:
            return variant
        try:
            if variant.condition.test(context):
                return variant
        except EvaluationError:
            continue  # a condition on an empty field does not apply yet
    return None


def field_moment(definition: DefinitionSet, clock: Clock, values: Mapping[str, Any]
                 ) -> datetime | None:
    """The moment a ``start_at`` clock counts from: its field's time (a date is the start of
    that day in the organisation's time zone), in UTC; None when the clock has no ``start_at``
    or the field is empty."""
    if clock.start_at is None:
        return None
    value = values.get(clock.start_at)
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.utcoffset() is not None else None
    if isinstance(value, date):
        zone = ZoneInfo(definition.organisation.timezone)
        return datetime.combine(value, time(0), tzinfo=zone).astimezone(UTC)
    return None


def start(definition: DefinitionSet, clock: Clock, context: Mapping[str, Any],
          now: datetime) -> ClockState | None:
    """A newly started clock, or None when no variant applies to this case.

    A clock with ``start_at`` counts from its field's time when the field has one (from
    ``now`` otherwise, until the field is given).
    """
    variant = choose_variant(clock, context)
    if variant is None:
        return None
    begin = field_moment(definition, clock, context) or now
    calendar = definition.calendars[variant.calendar]
    due = add(calendar, begin, variant.duration)
    return ClockState(
        id=clock.id, variant=variant.id, status="running", started_at=begin, due_at=due.at,
        warn_at=_warn_at(calendar, begin, due, variant),
        unofficial_years=tuple(sorted(due.unofficial_years)))


def _variant(definition: DefinitionSet, process_id: str, state: ClockState) -> ClockVariant:
    clock = definition.process(process_id).clocks[state.id]
    return next(v for v in clock.variants if v.id == state.variant)


def pause(state: ClockState, now: datetime) -> ClockState:
    """The clock stopped counting (waiting for the customer)."""
    if state.status != "running":
        return state
    return evolve(state, status="paused", paused_at=now)


def resume(definition: DefinitionSet, process_id: str, state: ClockState,
           now: datetime) -> ClockState:
    """The clock counting again, with the time that was left when it paused."""
    if state.status != "paused" or state.paused_at is None:
        return state
    variant = _variant(definition, process_id, state)
    calendar = definition.calendars[variant.calendar]
    paused = state.paused_at
    unofficial = set(state.unofficial_years)
    if variant.duration.unit in ("calendar_days", "hours"):
        shift = now - paused
        paused_hours = shift.total_seconds() / 3600
        due_at = state.due_at + shift
        warn_at = state.warn_at + shift if state.warn_at else None
    else:
        paused_hours = calendar.working_time_between(paused, now).total_seconds() / 3600
        left = calendar.working_time_between(paused, state.due_at).total_seconds() / 3600
        due = calendar.add_working_hours(now, left)
        unofficial |= due.unofficial_years
        due_at = due.at
        warn_at = None
        if state.warn_at is not None:
            warn_left = calendar.working_time_between(paused, state.warn_at).total_seconds()
            warn_at = calendar.add_working_hours(now, warn_left / 3600).at
    return evolve(state, status="running", paused_at=None, due_at=due_at, warn_at=warn_at,
                  unofficial_years=tuple(sorted(unofficial)),
                  paused_hours=state.paused_hours + paused_hours)


def recompute(definition: DefinitionSet, process_id: str, state: ClockState,
              context: Mapping[str, Any]) -> ClockState | None:
    """The clock as ``definition`` (another version) would have run it: same start, that
    version's variant, duration and calendar, and the time already spent paused added again.

    A stopped clock is history and stays as it is. None when no variant of the new version
    applies to the case any more.
    """
    if state.status == "stopped":
        return state
    clock = definition.process(process_id).clocks[state.id]
    variant = choose_variant(clock, context)
    if variant is None:
        return None
    return _recount(definition, state, variant, state.started_at)


def recount(definition: DefinitionSet, state: ClockState, variant: ClockVariant,
            started_at: datetime, now: datetime) -> ClockState:
    """The clock counted again from ``started_at`` with ``variant``'s duration and calendar,
    the time already spent paused added again (a corrected start, a re-chosen variant).

    When the due time moves later, the warning and breach marks that ``now`` no longer
    reaches are cleared, so that the sweep runs them again at the right time; marks still
    reached stay (their actions are never run twice).
    """
    moved = _recount(definition, state, variant, started_at)
    if moved.due_at <= state.due_at:
        return moved
    return evolve(moved, breached=state.breached and now >= moved.due_at,
                  warned=state.warned and now >= (moved.warn_at or moved.due_at))


def _recount(definition: DefinitionSet, state: ClockState, variant: ClockVariant,
             started_at: datetime) -> ClockState:
    calendar = definition.calendars[variant.calendar]
    base = add(calendar, started_at, variant.duration)
    warn = _warn_at(calendar, started_at, base, variant)
    unofficial = set(base.unofficial_years)

    def shifted(moment: datetime) -> datetime:
        if variant.duration.unit in ("calendar_days", "hours"):
            return moment + timedelta(hours=state.paused_hours)
        if not state.paused_hours:
            return moment
        due = calendar.add_working_hours(moment, state.paused_hours)
        unofficial.update(due.unofficial_years)
        return due.at

    due_at = shifted(base.at)
    return evolve(state, variant=variant.id, started_at=started_at, due_at=due_at,
                  warn_at=shifted(warn) if warn is not None else None,
                  unofficial_years=tuple(sorted(unofficial)))


#: Why a clock's start or due time moved: the cause codes its ``clock_changed`` event records,
#: with the words of its ``reason``.
CAUSES = {"field_corrected": "field corrected", "variant_rechosen": "variant re-chosen"}


def follow(definition: DefinitionSet, process: Process, before: Mapping[str, ClockState],
           clocks: dict[str, ClockState], old_values: Mapping[str, Any],
           context: Mapping[str, Any], now: datetime) -> dict[str, dict[str, Any]]:
    """Bring the clocks in ``clocks`` up to date with a step's values (in ``context``).

    * A clock with ``start_at`` and no ``start_on`` starts when its field first has a value.
    * A running or paused clock whose ``start_at`` field changed (``old_values`` are the
      values before the step) counts from the field's new time: the start and due time move,
      the time spent paused stays.
    * A running or paused clock whose variant no longer is the one that applies takes the one
      that does (same start, the new duration); when none applies any more it stays as it is.

    Returns, for each clock that existed before the step and moved, the facts its
    ``clock_changed`` audit event records: old and new start, due time and variant, and why.
    A stopped clock is history and never moves.
    """
    moved: dict[str, dict[str, Any]] = {}
    for clock in process.clocks.values():
        current = clocks.get(clock.id)
        # The field's moment only where it is read: most clocks have no start_at, or have
        # not started, or are history.
        if current is None:
            if (clock.start_at is not None and not clock.start_on
                    and field_moment(definition, clock, context) is not None):
                started = start(definition, clock, context, now)
                if started is not None:
                    clocks[clock.id] = started
            continue
        if current.status == "stopped" or clock.id not in before:
            continue
        moment = field_moment(definition, clock, context)
        variant = next((v for v in clock.variants if v.id == current.variant), None)
        causes: list[str] = []
        begin = current.started_at
        if (moment is not None and moment != current.started_at
                and old_values.get(clock.start_at or "") != context.get(clock.start_at or "")):
            begin = moment
            causes.append("field_corrected")
        chosen = choose_variant(clock, context)
        if chosen is not None and chosen.id != current.variant:
            variant = chosen
            causes.append("variant_rechosen")
        if not causes or variant is None:
            continue
        new = recount(definition, current, variant, begin, now)
        clocks[clock.id] = new
        moved[clock.id] = {
            "old": current.due_at, "old_started_at": current.started_at,
            "started_at": new.started_at, "old_variant": current.variant,
            "reason": "; ".join(CAUSES[cause] for cause in causes), "causes": tuple(causes),
            **({"source_field": clock.start_at} if "field_corrected" in causes else {})}
    return moved


def close(process: Process, clocks: dict[str, ClockState], now: datetime) -> None:
    """Stop every clock of a case reaching a final state, except those that run after close."""
    for cid, state in clocks.items():
        clock = process.clocks.get(cid)
        if state.status != "stopped" and not (clock is not None and clock.runs_after_close):
            clocks[cid] = stop(state, now)


def stop(state: ClockState, now: datetime) -> ClockState:
    """The clock finished; its due time stays for the record (met or missed)."""
    if state.status == "stopped":
        return state
    return evolve(state, status="stopped", stopped_at=now, paused_at=None)


def view(state: ClockState, now: datetime) -> ClockView:
    """How a clock stands at ``now``: running, warning, breached, paused or stopped."""
    if state.status != "running":
        return state.status
    if now >= state.due_at:
        return "breached"
    if state.warn_at is not None and now >= state.warn_at:
        return "warning"
    return "running"


def late(state: ClockState, now: datetime | None) -> bool:
    """Whether the clock missed its due time: stopped after it, or still counting past it."""
    if state.stopped_at is not None:
        return state.stopped_at > state.due_at
    if state.paused_at is not None:
        return state.paused_at > state.due_at
    return now is not None and now > state.due_at


def expression_view(states: Mapping[str, ClockState], now: datetime | None
                    ) -> dict[str, dict[str, Any]]:
    """What expressions read as ``clocks.<id>``: status, variant, due_at, late, breached."""
    return {cid: {"status": s.status, "variant": s.variant, "due_at": s.due_at,
                  "late": late(s, now), "breached": s.breached} for cid, s in states.items()}


@dataclass(frozen=True)
class TimeLeft:
    """How much time a clock has left (or how late it is), as people read it.

    ``working`` clocks count in the calendar's working days (of its own working-day length)
    with hours and minutes; the others in calendar days of 24 hours. ``overdue`` says the due
    time is past: the parts then tell by how much.
    """

    working: bool
    overdue: bool
    days: int
    hours: int
    minutes: int


def time_left(definition: DefinitionSet, process_id: str, state: ClockState,
              now: datetime) -> TimeLeft:
    """Time left before the due time (at the pause, for a paused clock), or how late.

    Working-time clocks walk their business calendar (:meth:`BusinessCalendar.
    split_working_time`); calendar-time clocks count 24-hour days.
    """
    variant = _variant(definition, process_id, state)
    reference = state.paused_at or now
    overdue = reference > state.due_at
    first, last = (state.due_at, reference) if overdue else (reference, state.due_at)
    if variant.duration.unit in ("calendar_days", "hours"):
        minutes = int((last - first).total_seconds() // 60)
        return TimeLeft(False, overdue, minutes // (24 * 60), minutes // 60 % 24, minutes % 60)
    calendar = definition.calendars[variant.calendar]
    days, hours, minutes = calendar.split_working_time(first, last)
    return TimeLeft(True, overdue, days, hours, minutes)
