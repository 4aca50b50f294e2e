"""The SQL of a report: one grouped statement over the period's cases, on either backend.

:mod:`.reports` says what a report computes; this module says how the database computes it.
Report conditions arrive as :mod:`...report_terms` trees and become SQL whose value is never
NULL (an empty field is spelt out), so ``not`` and ``!=`` mean what they mean in the
expression language. Field values are read from the JSON ``values`` document: ``json_extract``
on SQLite, ``->>`` (and ``?`` on a JSONB cast for lists) on PostgreSQL, where ``values`` is
``JSON``, not JSONB.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from typing import cast as typed
from zoneinfo import ZoneInfo

from sqlalchemy import (
    TIMESTAMP,
    ColumnElement,
    CompoundSelect,
    Numeric,
    Select,
    Table,
    and_,
    cast,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB

from ..model import Process, Report
from ..report_terms import (
    AllOf,
    Among,
    AnyOf,
    Comparison,
    Contains,
    Empty,
    Not,
    Operand,
    Term,
    Truth,
    condition_term,
)
from .models import CaseRow

__all__ = ["Aggregates", "ReportQuery"]

CASES = typed(Table, CaseRow.__table__)
# Columns a dimension may group by besides fields (the compiler accepts these names).
_GROUP_COLUMNS = ("state", "priority", "category", "assignee")
_TIMES = ("created_at", "closed_at")

_OPPOSITE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}

# What a group of the query holds: the case count, then one aggregate per measure.
Aggregates = tuple[int, tuple[Any, ...]]


def _column(name: str) -> ColumnElement[Any]:
    found: ColumnElement[Any] = CASES.c[name]
    return found


def _value(field: str) -> Any:
    """The JSON element of field ``field`` in the case's ``values`` document."""
    return CASES.c["values"][field]


def _text(field: str) -> ColumnElement[Any]:
    found: ColumnElement[Any] = _value(field).as_string()
    return found


class ReportQuery:
    """The grouped statement of one report on one dialect (``sqlite`` or ``postgresql``), and
    how to read its rows back as aggregates per table, period and dimension value."""

    def __init__(self, dialect: str, process: Process, report: Report) -> None:
        self.dialect = dialect
        self.process = process
        self.report = report
        self.dimensions = [self._dimension(field) for _id, field in report.dimensions]
        self.readers = [self._reader(field) for _id, field in report.dimensions]

    # the statement

    def where(self, bounds: tuple[Any, Any] | None) -> list[ColumnElement[bool]]:
        """The conditions a case meets to be counted in the period with ``bounds`` (first,
        end: see :meth:`bounds`; None: the report has no period): its process, not voided,
        in the period, and the report's filter."""
        report, process = self.report, self.process
        # Voided cases never count.
        where: list[ColumnElement[bool]] = [_column("process") == process.id,
                                            _column("voided_at").is_(None)]
        if bounds is not None and report.period_field is not None:
            moment = self._moment(report.period_field)
            where += [moment >= bounds[0], moment < bounds[1]]
        if report.filter is not None:
            where.append(self.sql(condition_term(report.filter, process)))
        return where

    def statement(self, bounds: tuple[Any, Any] | None, previous_start: Any | None,
                  within: ColumnElement[bool] | None = None
                  ) -> Select[Any] | CompoundSelect[Any]:
        """The statement for the period with ``bounds`` (first, end: see :meth:`bounds`),
        also counting from ``previous_start`` on as the previous period when it is given;
        with ``within``, only the cases that condition admits (a reader's cases).

        Rows: table index (-1: the total; a dimension index; on PostgreSQL a GROUPING()
        bitmask), 1 for this period or 0 for the previous, the key(s), the case count and one
        aggregate per measure; :meth:`groups` reads them.
        """
        report, process = self.report, self.process
        both = bounds
        if bounds is not None and previous_start is not None:
            both = (previous_start, bounds[1])
        where = self.where(both)
        if within is not None:
            where.append(within)
        current: ColumnElement[Any] = literal(True)
        if bounds is not None and previous_start is not None and report.period_field:
            current = self._moment(report.period_field) >= bounds[0]
        columns = [current.label("cur"), *(d.label(f"d{i}") for i, d in
                                           enumerate(self.dimensions))]
        # Each condition once (measures often share one), as a column the aggregates filter on.
        conditions: dict[str, str] = {}
        for measure in report.measures:
            if measure.condition is not None and measure.condition.source not in conditions:
                name = conditions[measure.condition.source] = f"c{len(conditions)}"
                columns.append(self.sql(condition_term(measure.condition, process)).label(name))
        columns += [cast(_text(m.field), Numeric()).label(f"v{i}")
                    for i, m in enumerate(report.measures) if m.field is not None
                    and m.aggregate not in ("count", "share", "rate")]
        cases = select(*columns).where(*where).cte("report_cases")
        aggregates = [func.count().label("n")]
        for i, measure in enumerate(report.measures):
            holds = (cases.c[conditions[measure.condition.source]]
                     if measure.condition is not None else None)
            if measure.aggregate in ("count", "share", "rate") or measure.field is None:
                total: ColumnElement[Any] = func.count()
            else:
                total = getattr(func, measure.aggregate)(cases.c[f"v{i}"])
            aggregates.append((total.filter(holds) if holds is not None else total
                               ).label(f"a{i}"))
        dims = [cases.c[f"d{i}"] for i in range(len(self.dimensions))]
        if not dims:
            return select(literal(-1).label("set"), cases.c.cur, null().label("key"),
                          *aggregates).group_by(cases.c.cur)
        if self.dialect == "postgresql":
            # One pass over the period's cases for every table and the total.
            sets = [tuple_(cases.c.cur), *(tuple_(cases.c.cur, d) for d in dims)]
            return select(func.grouping(*dims).label("set"), cases.c.cur, *dims, *aggregates
                          ).group_by(func.grouping_sets(*sets))
        # SQLite has no GROUPING SETS: one grouped SELECT per table, glued together.
        parts = [select(literal(-1).label("set"), cases.c.cur, null().label("key"),
                        *aggregates).group_by(cases.c.cur)]
        parts += [select(literal(i).label("set"), cases.c.cur, d.label("key"), *aggregates)
                  .group_by(cases.c.cur, d) for i, d in enumerate(dims)]
        return union_all(*parts)

    def bounds(self, first: date, end: date, zone: str) -> tuple[Any, Any]:
        """A period of local days [first, end) as the period attribute's SQL compares it:
        UTC instants of local midnights in ``zone``, or ISO dates for a date field."""
        start, stop = (datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC)
                       for day in (first, end))
        field = self.report.period_field
        spec = self.process.fields.get(field or "")
        if field in _TIMES or spec is None:
            return start, stop
        if spec.type == "date":
            return first.isoformat(), end.isoformat()
        if self.dialect == "sqlite":  # datetime() gives UTC text 'YYYY-MM-DD HH:MM:SS'
            return f"{start:%Y-%m-%d %H:%M:%S}", f"{stop:%Y-%m-%d %H:%M:%S}"
        return start, stop

    def _moment(self, field: str) -> ColumnElement[Any]:
        if field in _TIMES:
            return _column(field)
        text = _text(field)
        spec = self.process.fields.get(field)
        if spec is not None and spec.type == "datetime":
            # Stored with their offset: compared as instants, not as text.
            if self.dialect == "sqlite":
                return func.datetime(text)
            return cast(text, TIMESTAMP(timezone=True))
        return text

    def _dimension(self, field: str) -> ColumnElement[Any]:
        if field == self.process.category_field:
            return _column("category")
        if field in _GROUP_COLUMNS and field not in self.process.fields:
            return _column(field)
        return _text(field)

    def _reader(self, field: str) -> Callable[[Any], object]:
        """How a grouped value, read as text, comes back as the field's raw JSON value."""
        spec = self.process.fields.get(field)
        if spec is None or field == self.process.category_field:
            return _same
        if spec.type == "yes_no":
            return _boolean
        if spec.type == "integer":
            return _integer
        if spec.type in ("decimal", "money"):
            return _decimal
        return _same

    # reading the rows

    def groups(self, rows: Sequence[Any]) -> dict[tuple[int, int], dict[object, Aggregates]]:
        """(table index, 1 for this period / 0 for the previous) -> key -> aggregates; the
        total line is table -1 with key None."""
        result: dict[tuple[int, int], dict[object, Aggregates]] = {}
        width = len(self.dimensions)
        for row in rows:
            values = tuple(row)
            index, current = int(values[0]), int(bool(values[1]))
            if self.dialect == "postgresql" and width:
                # GROUPING(d0, d1, ...) has a 1 bit for each dimension not grouped by.
                ones = (1 << width) - 1
                grouped = [i for i in range(width) if not index >> (width - 1 - i) & 1]
                index = -1 if values[0] == ones else grouped[0]
                key = values[2 + index] if index >= 0 else None
                rest = values[2 + width:]
            else:
                key, rest = values[2], values[3:]
            if index >= 0:
                key = self.readers[index](key)
            result.setdefault((index, current), {})[key] = (int(rest[0]), tuple(rest[1:]))
        return result

    # conditions

    def sql(self, term: Term, holds: bool = True) -> ColumnElement[bool]:
        """The SQL of a report condition (``holds=False``: of its negation).

        Negations are pushed down to the comparisons (De Morgan), and only a negated
        comparison spells out empty fields: everywhere else a comparison with an empty field
        is NULL, which WHERE and CASE WHEN read as false, as the expression language does.
        So no SQL NOT ever meets a NULL, and no extraction is repeated for a positive test.
        """
        if isinstance(term, AllOf | AnyOf):
            parts = [self.sql(t, holds) for t in term.terms]
            return and_(*parts) if isinstance(term, AllOf) == holds else or_(*parts)
        if isinstance(term, Not):
            return self.sql(term.term, not holds)
        if isinstance(term, Truth):
            column = self._operand(term.operand)
            return column.is_(true()) if holds else column.is_not(true())
        if isinstance(term, Empty):
            column = self._operand(term.operand, as_text=True)
            return column.is_(None) if holds else column.is_not(None)
        if isinstance(term, Contains):
            found = self._contains(term.operand, term.value)
            return found if holds else not_(found)
        column = self._operand(term.operand)
        if isinstance(term, Among):
            if holds:
                return column.in_(term.values)
            return self._or_empty(term.operand, column, column.not_in(term.values))
        return self._comparison(term, column, holds)

    def _comparison(self, term: Comparison, column: ColumnElement[Any],
                    holds: bool) -> ColumnElement[bool]:
        if term.operand.kind == "boolean":
            wanted = true() if term.value else false()
            return column.is_(wanted) if (term.op == "==") == holds else column.is_not(wanted)
        op = term.op if holds else _OPPOSITE[term.op]
        if op == "!=":  # an empty field differs from every value
            if _nullable(term.operand):
                return column.is_distinct_from(term.value)
            return column != term.value
        compare: dict[str, Callable[[Any], ColumnElement[bool]]] = {
            "==": column.__eq__, "<": column.__lt__, "<=": column.__le__,
            ">": column.__gt__, ">=": column.__ge__}
        result = compare[op](term.value)
        # Not (amount > 5000) holds for an empty amount: the comparison did not.
        return result if holds or op == "==" else self._or_empty(term.operand, column, result)

    @staticmethod
    def _or_empty(target: Operand, column: ColumnElement[Any],
                  test: ColumnElement[bool]) -> ColumnElement[bool]:
        return or_(column.is_(None), test) if _nullable(target) else test

    def _operand(self, target: Operand, as_text: bool = False) -> ColumnElement[Any]:
        if target.column is not None:
            return _column(target.column)
        if as_text or target.kind in ("text", "list", "date", "moment"):
            return _text(target.name)
        if target.kind == "boolean":
            found: ColumnElement[Any] = _value(target.name).as_boolean()
            return found
        return cast(_text(target.name), Numeric())

    def _contains(self, target: Operand, item: str) -> ColumnElement[bool]:
        if self.dialect == "postgresql":
            document = (_column("flags") if target.column is not None
                        else _value(target.name))
            return func.coalesce(cast(document, JSONB).has_key(item), false())  # never NULL
        source = (func.json_each(_column("flags")) if target.column is not None
                  else func.json_each(_column("values"), f'$."{target.name}"'))
        items = source.table_valued("value")
        return select(items.c.value).where(items.c.value == item).exists()


def _nullable(target: Operand) -> bool:
    return target.column in (None, "category", "closed_at")


def _same(value: object) -> object:
    return value


def _boolean(value: object) -> object:
    # Grouped as text: SQLite's JSON true reads '1', PostgreSQL's 'true'.
    if value is None:
        return None
    return value in (1, True, "1", "true")


def _integer(value: object) -> object:
    return None if value is None else int(str(value))


def _decimal(value: object) -> object:
    return None if value is None else Decimal(str(value))

