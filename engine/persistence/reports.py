"""Reports computed by the database: one grouped query per report, both periods at once.

A report (``reports.yaml``) counts one process's cases whose period attribute (``closed_at``,
say) falls in a period of local calendar days, broken down by each of its dimensions, with
measures: count, share of the period's total, rate of cases where a condition holds, and sum,
average, minimum or maximum of a number field. Everything is computed in SQL (GROUP BY, with
GROUPING SETS on PostgreSQL): the report's ``filter`` and each measure's ``if`` become SQL
through :mod:`..report_terms`, and Python only divides the aggregates it gets back.

Period boundaries are local midnights in the organisation's time zone turned into UTC instants,
so the query ranges over the indexed ``closed_at``/``created_at`` column. The previous period
is read by the same query (month over month), and each measure with a target gets a verdict.
Voided cases never count.

Results are plain frozen data: dimension values are raw ids (a choice id, a category id, a user
id, true/false), labelled later by the caller in the reader's language.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, sessionmaker

from ..calendar import add_months
from ..model import DefinitionSet, Measure, Process, Report
from ..report_terms import condition_term
from .models import CaseRow
from .report_sql import Aggregates, ReportQuery

__all__ = [
    "Breakdown",
    "Figure",
    "Line",
    "Period",
    "ReportResult",
    "Value",
    "Verdict",
    "counted",
    "line_token",
    "month",
    "own_period",
    "period_containing",
    "run_report",
    "run_reports",
]

Value = int | Decimal | None
Verdict = Literal["met", "missed"]
_MONTHS = {"month": 1, "quarter": 3, "year": 12}


# -- periods ------------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Period:
    """Local calendar days ``start`` (included) to ``end`` (excluded), in the organisation's
    time zone: a month is ``Period(date(2026, 10, 1), date(2026, 11, 1))``."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"a period ends after it starts ({self.start} to {self.end})")

    @property
    def months(self) -> int | None:
        """How many whole months the period spans, or None when it is not whole months."""
        if self.start.day != 1 or self.end.day != 1:
            return None
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month

    def previous(self) -> Period:
        """The period of the same length just before (the previous month for a month)."""
        months = self.months
        if months is None:
            return Period(self.start - (self.end - self.start), self.start)
        return Period(add_months(self.start, -months), self.start)

    def instants(self, zone: str) -> tuple[datetime, datetime]:
        """The period's first and end instants in UTC: local midnights in ``zone``."""
        tz = ZoneInfo(zone)
        return (datetime.combine(self.start, time(), tz).astimezone(UTC),
                datetime.combine(self.end, time(), tz).astimezone(UTC))

    def __str__(self) -> str:
        months = self.months
        if months == 1:
            return f"{self.start:%Y-%m}"
        if months == 12 and self.start.month == 1:
            return f"{self.start:%Y}"
        if months == 3 and self.start.month % 3 == 1:
            return f"{self.start.year}-Q{self.start.month // 3 + 1}"
        last = date.fromordinal(self.end.toordinal() - 1)
        return f"{self.start.isoformat()}..{last.isoformat()}"


def month(year: int, number: int) -> Period:
    """The calendar month ``year-number``; ValueError for a month that does not exist."""
    if not 1 <= number <= 12:
        raise ValueError(f"there is no month {number}: months run from 1 to 12")
    start = date(year, number, 1)
    return Period(start, add_months(start, 1))


def period_containing(day: date, every: str = "month") -> Period:
    """The month, quarter or year (``every``) that holds ``day``."""
    if every not in _MONTHS:
        raise ValueError(f"unknown period {every!r}: month, quarter or year")
    length = _MONTHS[every]
    first_month = (day.month - 1) // length * length + 1
    start = date(day.year, first_month, 1)
    return Period(start, add_months(start, length))


# -- results ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Figure:
    """One measure in one line: this period's value, the previous period's, the verdicts.

    ``verdict`` is None when the measure has no target or no value (no cases to rate).
    """

    measure: str
    value: Value
    previous: Value = None
    verdict: Verdict | None = None
    previous_verdict: Verdict | None = None


@dataclass(frozen=True)
class Line:
    """A line of a table: the cases with one dimension value (``key``; None for the total
    line, and for cases whose field is empty), how many there are and the figures."""

    key: object
    count: int
    previous_count: int
    figures: tuple[Figure, ...]

    def figure(self, measure: str) -> Figure:
        """The figure of measure ``measure`` (KeyError naming the measures there are)."""
        for found in self.figures:
            if found.measure == measure:
                return found
        known = ", ".join(f.measure for f in self.figures)
        raise KeyError(f"no measure {measure!r} (measures: {known})")


@dataclass(frozen=True)
class Breakdown:
    """One dimension's table: a line per value, in the definition's order (the values the
    definition declares are always listed, others after them, empty last)."""

    dimension: str
    field: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class ReportResult:
    """A report for a period: the total line and one table per dimension.

    ``previous`` is the period compared with (None when the report was run without
    comparison or has no period).
    """

    report: str
    period: Period | None
    previous: Period | None
    total: Line
    breakdowns: tuple[Breakdown, ...]


# -- running ------------------------------------------------------------------------------------

Sessions = Session | sessionmaker[Session]


def run_report(source: Sessions, definition: DefinitionSet, report: Report,
               period_start: date | None = None, period_end: date | None = None, *,
               compare: bool = True) -> ReportResult:
    """Compute ``report`` over the cases closed (or created...) from ``period_start`` to
    ``period_end`` (local days, end excluded), and the period just before when ``compare``.

    ``source`` is an open session or a sessionmaker (then a session is opened and closed
    here). A report without a period counts every case and compares nothing. One query.
    """
    period: Period | None = None
    if report.period_field is not None:
        if period_start is None or period_end is None:
            raise ValueError(f"report {report.id!r} counts cases by period: give its start "
                             "and end")
        period = Period(period_start, period_end)
    if isinstance(source, Session):
        return _run(source, definition, report, period, compare)
    with source() as session:
        return _run(session, definition, report, period, compare)


def run_reports(source: Sessions, definition: DefinitionSet, period: Period,
                report_ids: Iterable[str] | None = None, *, compare: bool = True,
                within: ColumnElement[bool] | None = None) -> list[ReportResult]:
    """Several reports of ``definition`` (default: all, in definition order) for the period of
    each report's length (month, quarter or year) that starts ``period``, in one session;
    with ``within`` (a reader's read-access condition), over the cases it admits only."""
    ids = list(definition.reports) if report_ids is None else list(report_ids)
    unknown = [i for i in ids if i not in definition.reports]
    if unknown:
        raise KeyError(f"no report {', '.join(map(repr, unknown))} (reports: "
                       f"{', '.join(definition.reports)})")

    def go(session: Session) -> list[ReportResult]:
        results = []
        for report_id in ids:
            report = definition.reports[report_id]
            results.append(_run(session, definition, report, own_period(report, period),
                                compare, within))
        return results

    if isinstance(source, Session):
        return go(source)
    with source() as session:
        return go(session)


def own_period(report: Report, period: Period) -> Period | None:
    """The period ``report`` counts when asked for ``period``: the month, quarter or year of
    its own length that holds ``period``'s first day (None for a report without a period)."""
    if report.period_field is None:
        return None
    return period_containing(period.start, report.period_every or "month")


def _run(session: Session, definition: DefinitionSet, report: Report, period: Period | None,
         compare: bool, within: ColumnElement[bool] | None = None) -> ReportResult:
    process = definition.process(report.process)
    dialect = session.get_bind().dialect.name
    previous = period.previous() if period is not None and compare else None
    query = ReportQuery(dialect, process, report)
    zone = definition.organisation.timezone
    bounds = query.bounds(period.start, period.end, zone) if period is not None else None
    first = query.bounds(previous.start, previous.end, zone)[0] if previous is not None else None
    rows = session.execute(query.statement(bounds, first, within)).all()
    groups = query.groups(rows)
    total_now = groups.get((-1, 1), {}).get(None)
    total_before = groups.get((-1, 0), {}).get(None)
    totals = (total_now[0] if total_now else 0, total_before[0] if total_before else 0)
    whole = _whole_numbers(process, report)
    total = _line(report, None, total_now, total_before, totals, whole)
    breakdowns = []
    for index, (dimension, field) in enumerate(report.dimensions):
        now, before = groups.get((index, 1), {}), groups.get((index, 0), {})
        keys = _ordered(process, field, set(now) | set(before))
        breakdowns.append(Breakdown(dimension, field, tuple(
            _line(report, key, now.get(key), before.get(key), totals, whole) for key in keys)))
    return ReportResult(report.id, period, previous, total, tuple(breakdowns))


# -- drill-down ---------------------------------------------------------------------------------

#: The most case numbers a figure's drill-down lists (a year's report may count thousands).
DRILL_LIMIT = 2000


def line_token(key: object) -> str:
    """A dimension value as one string (JSON), to name a table line in an address."""
    return json.dumps(key, default=str, ensure_ascii=False)


def counted(source: Sessions, definition: DefinitionSet, report: Report, period: Period, *,
            dimension: int | None = None, line: str | None = None, measure: str | None = None,
            previous: bool = False, limit: int = DRILL_LIMIT) -> list[str]:
    """The numbers of the cases a figure of ``report`` counts, oldest first, at most ``limit``.

    The figure is the report asked for ``period`` (its own period is found as
    :func:`run_reports` finds it; ``previous``: the period before), on the total line or, with
    ``dimension`` (an index in the report's dimensions), on the line whose value has
    :func:`line_token` ``line``; ``measure`` narrows to the cases its condition holds for
    when it counts them (a rate, share, sum or average is computed over all of the line's
    cases: those are listed). Same filter, same period, voided cases left out, as the report.
    Read access is the caller's (the case list applies it). ``source``: a session or a
    sessionmaker, as for :func:`run_report`.
    """
    if not isinstance(source, Session):
        with source() as session:
            return counted(session, definition, report, period, dimension=dimension,
                           line=line, measure=measure, previous=previous, limit=limit)
    session = source
    process = definition.process(report.process)
    query = ReportQuery(session.get_bind().dialect.name, process, report)
    own = own_period(report, period)
    if own is not None and previous:
        own = own.previous()
    bounds = (query.bounds(own.start, own.end, definition.organisation.timezone)
              if own is not None else None)
    where = query.where(bounds)
    chosen = next((m for m in report.measures if m.id == measure), None)
    if chosen is not None and chosen.aggregate == "count" and chosen.condition is not None:
        where.append(query.sql(condition_term(chosen.condition, process)))
    if dimension is None:
        return list(session.execute(select(CaseRow.number).where(*where)
                                    .order_by(CaseRow.id).limit(limit)).scalars())
    read = query.readers[dimension]
    found: list[str] = []
    for number, value in session.execute(select(CaseRow.number, query.dimensions[dimension])
                                         .where(*where).order_by(CaseRow.id)):
        if line_token(read(value)) == line:
            found.append(number)
            if len(found) >= limit:
                break
    return found


def _whole_numbers(process: Process, report: Report) -> frozenset[str]:
    """The measures whose values are whole numbers: sums, minima and maxima of integers."""
    return frozenset(m.id for m in report.measures if m.aggregate in ("sum", "min", "max")
                     and process.fields.get(m.field or "") is not None
                     and process.fields[m.field or ""].type == "integer")


def _line(report: Report, key: object, now: Aggregates | None, before: Aggregates | None,
          totals: tuple[int, int], whole: frozenset[str]) -> Line:
    figures = []
    for index, measure in enumerate(report.measures):
        value = _value(measure, now, index, totals[0], measure.id in whole)
        previous = _value(measure, before, index, totals[1], measure.id in whole)
        figures.append(Figure(measure.id, value, previous, _verdict(measure, value),
                              _verdict(measure, previous)))
    return Line(key, now[0] if now else 0, before[0] if before else 0, tuple(figures))


def _value(measure: Measure, group: Aggregates | None, index: int, total: int,
           whole: bool) -> Value:
    """A measure's value from its group's aggregates (no group: no cases)."""
    count, aggregates = group if group is not None else (0, (None,) * (index + 1))
    raw = aggregates[index]
    kind = measure.aggregate
    if kind == "count":
        return int(raw or 0)
    if kind == "share":
        return Decimal(int(raw or 0)) / Decimal(total) if total else None
    if kind == "rate":
        return Decimal(int(raw or 0)) / Decimal(count) if count else None
    if raw is None:
        return None
    number = raw if isinstance(raw, Decimal) else Decimal(str(raw))
    return int(number) if whole else number


def _verdict(measure: Measure, value: Value) -> Verdict | None:
    if value is None or (measure.target_min is None and measure.target_max is None):
        return None
    low_ok = measure.target_min is None or value >= measure.target_min
    high_ok = measure.target_max is None or value <= measure.target_max
    return "met" if low_ok and high_ok else "missed"


def _ordered(process: Process, field: str, keys: set[object]) -> list[object]:
    """The lines of a dimension: declared values first, in the definition's order (always,
    so that one month's table lines up with the next), then other values, empty last."""
    declared = _declared(process, field)
    extra = sorted((k for k in keys if k is not None and k not in declared), key=str)
    return [*declared, *extra, *([None] if None in keys else [])]


def _declared(process: Process, field: str) -> list[object]:
    if field == "state":
        return list(process.states)
    if field == "priority":
        return [p.id for p in process.priorities]
    spec = process.fields.get(field)
    if field == "category" or (spec is not None and spec.type == "category"):
        # Leaves only: a parent with sub-categories is rarely chosen itself (listed if it was).
        paths = [c.path for c in process.categories.values()]
        return [c.id for c in process.categories.values()
                if not any(len(p) > len(c.path) and p[:len(c.path)] == c.path for p in paths)]
    if spec is not None and spec.type == "choice":
        return list(spec.choices)
    if spec is not None and spec.type == "yes_no":
        return [True, False]
    return []
