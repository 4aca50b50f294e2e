"""Report results as labelled tables in one language: what the page, the files and the CLI show.

:mod:`qmsflow.engine.persistence.reports` returns raw figures and ids; this module labels them
in a locale (dimension values by their choice, category, state or user labels from the
definitions, UI words through the caller's translation function ``_``, so that the web page,
the Excel and CSV files and the terminal all say the same) and lays each report out:

- a report with dimensions gets one table per dimension: a line per value and a total line,
  each measure this period and the period before, and for a measure with a target whether
  this period's value meets it;
- a report without dimensions (KPIs) gets one table with a line per measure: this period,
  the period before, the target and whether it is met.

Cells keep the raw value and its format beside the text, so that Excel gets numbers with
number formats and a chart gets lengths.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from qmsflow.engine.errors import QmsflowError
from qmsflow.engine.model import DefinitionSet, Labels, Measure, Process, Report, text
from qmsflow.engine.persistence import reports
from qmsflow.engine.values import DATE_MAX, DATE_MIN, display

Translate = Callable[[str], str]
Format = str  # "count", "number", "percent", "money", "hours", "text"
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{1,2})$")
#: The years a report may be asked for: those a case's dates may hold (values.DATE_MIN/MAX).
MONTH_YEARS = (DATE_MIN.year, DATE_MAX.year)


class MonthError(QmsflowError, ValueError):
    """A month that cannot be read; the message says how to write one."""


def parse_month(value: str) -> reports.Period:
    """The month written ``YYYY-MM`` (e.g. 2026-10); MonthError saying how to write it."""
    found = _MONTH.match(value.strip())
    if found is None:
        raise MonthError(f"{value!r} is not a month: write YYYY-MM, e.g. 2026-10")
    year = int(found[1])
    if not MONTH_YEARS[0] <= year <= MONTH_YEARS[1]:
        # Year 1 or 9999 has no UTC midnight on one side or the other (and no cases).
        raise MonthError(f"{value!r} is not a month of a report: pick a year from "
                         f"{MONTH_YEARS[0]} to {MONTH_YEARS[1]}")
    try:
        return reports.month(year, int(found[2]))
    except ValueError as error:
        raise MonthError(f"{value!r} is not a month: {error}") from None


def previous_month(today: date) -> reports.Period:
    """The month before the one holding ``today``: the month a monthly report is due for."""
    return reports.month(today.year, today.month).previous()


@dataclass(frozen=True)
class Drill:
    """Which cases a figure counts (see :func:`.reports.counted`): the line (a dimension's
    id and its value's :func:`.reports.line_token`; None for the total), the measure, and
    whether it is the previous period's figure."""

    dimension: str | None
    line: str | None
    measure: str
    previous: bool = False


@dataclass(frozen=True)
class Cell:
    """One cell: the text shown, the raw value (a number for number cells), its format,
    'met' / 'missed' when it is a value checked against a target, and for a figure over
    some cases, which (a page links it to their list)."""

    text: str
    value: reports.Value = None
    format: Format = "text"
    verdict: str | None = None
    drill: Drill | None = None


@dataclass(frozen=True)
class Table:
    """A table as shown: a title, the header, the lines (the total line last, marked).

    ``header`` is one row of complete column titles (what files use); a page may show it as
    two rows instead: ``groups`` (a measure's label over its ``span`` columns) above
    ``subheader`` (the period or 'target' of each column), when ``groups`` is not empty.
    """

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    total_row: bool
    chart: Chart | None
    groups: tuple[tuple[str, int], ...] = ()
    subheader: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: a line's label, this period's and the previous value, and for a
    value with a target the target and the verdict."""

    label: str
    value: float
    previous: float | None
    shown: str
    target: float | None = None
    verdict: str | None = None


@dataclass(frozen=True)
class Chart:
    """What a table's chart shows: bars on one scale (``percent``: 0 to 100%)."""

    title: str
    description: str
    bars: tuple[Bar, ...]
    percent: bool


@dataclass(frozen=True)
class ReportView:
    """A report for a period, ready to show: title, periods, due date, tables."""

    id: str
    title: str
    period: str
    previous: str | None
    due: date | None
    tables: tuple[Table, ...]


def view(definition: DefinitionSet, report: Report, result: reports.ReportResult, locale: str,
         _: Translate, people: Mapping[str, str] | None = None) -> ReportView:
    """``result`` of ``report`` labelled in ``locale``; ``people``: user id -> name."""
    process = definition.process(report.process)
    period = str(result.period) if result.period else _("all cases to date")
    previous = str(result.previous) if result.previous else None
    due = None
    if result.period is not None and report.due_day is not None:
        due = result.period.end.replace(day=report.due_day)
    labeller = _Labeller(definition, process, locale, _, people or {})
    tables: list[Table] = []
    if not result.breakdowns:
        tables.append(_summary(report, result, labeller, period, previous, _))
    for (dimension, field), breakdown in zip(report.dimensions, result.breakdowns,
                                             strict=True):
        title = dimension_title(definition, report, dimension, field, locale, _)
        rows = [(labeller.value(field, line.key), line) for line in breakdown.lines]
        tables.append(_breakdown(report, title, rows, result.total, labeller, period,
                                 previous, _, dimension))
    return ReportView(report.id, labeller.text(report.label), period, previous, due,
                      tuple(tables))


def dimension_title(definition: DefinitionSet, report: Report, dimension: str, field: str,
                    locale: str, _: Translate) -> str:
    """A dimension's title: its label in the report definition, else its field's label, else
    the name of the case attribute it groups by."""
    labels = dimension_label(definition, report, dimension, field)
    if labels:
        return text(labels, locale)
    attributes = {"state": _("State"), "priority": _("Priority"), "category": _("Category"),
                  "assignee": _("Assigned to")}
    return attributes.get(field, dimension)


def dimension_label(definition: DefinitionSet, report: Report, dimension: str,
                    field: str) -> Labels | None:
    """A dimension's label as the report definition gives it, else its field's label (None
    for a case attribute without a label)."""
    if dimension in report.dimension_labels:
        return report.dimension_labels[dimension]
    spec = definition.process(report.process).fields.get(field)
    return spec.label if spec is not None else None


def people_ids(definition: DefinitionSet, results: Collection[reports.ReportResult]) -> set[str]:
    """The user ids among the results' dimension values, for looking their names up."""
    found: set[str] = set()
    for result in results:
        report = definition.reports[result.report]
        process = definition.process(report.process)
        for (_dimension, field), breakdown in zip(report.dimensions, result.breakdowns,
                                                  strict=True):
            spec = process.fields.get(field)
            if field == "assignee" or (spec is not None and spec.type == "user"):
                found |= {line.key for line in breakdown.lines if isinstance(line.key, str)}
    return found


# -- layout -------------------------------------------------------------------------------------

def _breakdown(report: Report, title: str, rows: list[tuple[str, reports.Line]],
               total: reports.Line, labeller: _Labeller, period: str, previous: str | None,
               _: Translate, dimension: str | None = None) -> Table:
    header, groups, subheader = [title], [], []
    for measure in report.measures:
        name = labeller.text(measure.label)
        columns = [period, *([previous] if previous is not None else [])]
        if _has_target(measure):
            columns.append(_("target") + " " + _target_text(measure, _))
        header += [f"{name} ({column})" for column in columns]
        groups.append((name, len(columns)))
        subheader += columns
    lines = [(name, line, dimension) for name, line in rows] + [(_("Total"), total, None)]
    body = tuple(tuple([Cell(name), *_figures(report, line, previous is not None, _, index)])
                 for name, line, index in lines)
    return Table(title, tuple(header), body, True, _breakdown_chart(
        report, title, rows, labeller, period, previous, _), tuple(groups), tuple(subheader))


def _drill(dimension: str | None, line: reports.Line, measure: Measure,
           previous: bool = False) -> Drill | None:
    """Which cases a figure of ``line`` counts; None when the line has none that period."""
    if not (line.previous_count if previous else line.count):
        return None
    figure = line.figure(measure.id)
    if measure.aggregate == "count" and not (figure.previous if previous else figure.value):
        return None  # a conditional count of none: nothing to list
    token = reports.line_token(line.key) if dimension is not None else None
    return Drill(dimension, token, measure.id, previous)


def _figures(report: Report, line: reports.Line, compare: bool, _: Translate,
             dimension: str | None = None) -> list[Cell]:
    cells: list[Cell] = []
    for measure in report.measures:
        figure = line.figure(measure.id)
        cells.append(_cell(measure, figure.value, figure.verdict,
                           _drill(dimension, line, measure)))
        if compare:
            cells.append(_cell(measure, figure.previous, figure.previous_verdict,
                               _drill(dimension, line, measure, previous=True)))
        if _has_target(measure):
            cells.append(_verdict_cell(figure.verdict, _))
    return cells


def _summary(report: Report, result: reports.ReportResult, labeller: _Labeller, period: str,
             previous: str | None, _: Translate) -> Table:
    header = [_("Measure"), period, *([previous] if previous else []), _("Target"),
              _("Status")]
    rows = []
    for measure in report.measures:
        figure = result.total.figure(measure.id)
        rows.append((Cell(labeller.text(measure.label)),
                     _cell(measure, figure.value, figure.verdict,
                           _drill(None, result.total, measure)),
                     *([_cell(measure, figure.previous, figure.previous_verdict,
                              _drill(None, result.total, measure, previous=True))]
                       if previous else []),
                     Cell(_target_text(measure, _) if _has_target(measure) else ""),
                     _verdict_cell(figure.verdict, _) if _has_target(measure) else Cell("")))
    title = _("Key figures")
    charted = [m for m in report.measures if m.format == "percent"]
    chart = None
    if charted:
        bars = tuple(_bar(labeller.text(m.label), m, result.total.figure(m.id).value,
                          result.total.figure(m.id).previous, result.total.figure(m.id).verdict)
                     for m in charted)
        heading = f"{labeller.text(report.label)} · {title}"
        chart = Chart(heading, _description(_, heading, period, previous, True), bars, True)
    return Table(title, tuple(header), tuple(rows), False, chart)


def _breakdown_chart(report: Report, title: str, rows: list[tuple[str, reports.Line]],
                     labeller: _Labeller, period: str, previous: str | None,
                     _: Translate) -> Chart | None:
    # The first plain count, else the first measure: what the bars are lengths of.
    measure = next((m for m in report.measures if m.aggregate == "count" and
                    m.condition is None), report.measures[0])
    shown = [(name, line) for name, line in rows if line.count or line.previous_count]
    if not shown:
        return None
    percent = measure.format == "percent" or measure.aggregate in ("share", "rate")
    bars = tuple(_bar(name, measure, line.figure(measure.id).value,
                      line.figure(measure.id).previous if previous else None,
                      line.figure(measure.id).verdict) for name, line in shown)
    heading = f"{labeller.text(measure.label)} · {title}"
    return Chart(heading, _description(_, heading, period, previous, False), bars, percent)


def _description(_: Translate, title: str, period: str, previous: str | None,
                 percent: bool) -> str:
    if previous:
        text_ = _("%(title)s: a bar per line, %(period)s in full colour, %(previous)s "
                  "paler beside it. The table holds every figure.")
    else:
        text_ = _("%(title)s: a bar per line for %(period)s. The table holds every figure.")
    if percent:
        text_ += " " + _("A line across a bar marks its target.")
    return text_ % {"title": title, "period": period, "previous": previous}


def _bar(label: str, measure: Measure, value: reports.Value, previous: reports.Value,
         verdict: str | None) -> Bar:
    target = measure.target_min if measure.target_min is not None else measure.target_max
    return Bar(label, float(value or 0), None if previous is None else float(previous),
               format_value(measure, value), None if target is None else float(target),
               verdict)


# -- cells --------------------------------------------------------------------------------------

def _has_target(measure: Measure) -> bool:
    return measure.target_min is not None or measure.target_max is not None


def _target_text(measure: Measure, _: Translate) -> str:
    parts = []
    if measure.target_min is not None:
        parts.append(f"≥ {format_value(measure, measure.target_min)}")
    if measure.target_max is not None:
        parts.append(f"≤ {format_value(measure, measure.target_max)}")
    return " ".join(parts)


def _verdict_cell(verdict: str | None, _: Translate) -> Cell:
    words = {"met": _("met"), "missed": _("missed")}
    return Cell(words.get(verdict or "", "—"), None, "text", verdict)


def _cell(measure: Measure, value: reports.Value, verdict: str | None,
          drill: Drill | None = None) -> Cell:
    return Cell(format_value(measure, value), value, _format(measure), verdict, drill)


def _format(measure: Measure) -> Format:
    if measure.aggregate in ("share", "rate") or measure.format == "percent":
        return "percent"
    if measure.aggregate == "count":
        return "count"
    return measure.format


def format_value(measure: Measure, value: reports.Value) -> str:
    """A measure's value as people read it: 95.2%, 1,234, 3,000.00; an em dash for none."""
    if value is None:
        return "—"
    kind = _format(measure)
    if kind == "percent":
        return f"{Decimal(value) * 100:.1f}%"
    if kind == "hours":
        return f"{Decimal(value):,.1f}"
    if kind == "money" or (isinstance(value, Decimal) and value != value.to_integral_value()):
        return f"{Decimal(value):,.2f}"
    return f"{int(value):,}"


# -- labels -------------------------------------------------------------------------------------

class _Labeller:
    """Dimension values by the labels the definitions give them, in one locale."""

    def __init__(self, definition: DefinitionSet, process: Process, locale: str,
                 _: Translate, people: Mapping[str, str]) -> None:
        self.definition = definition
        self.process = process
        self.locale = locale
        self._ = _
        self.people = people

    def text(self, labels: Labels) -> str:
        return text(labels, self.locale)

    def value(self, field: str, key: object) -> str:
        if key is None:
            return self._("(not filled in)")
        process = self.process
        spec = process.fields.get(field)
        if field == "state" and spec is None:
            state = process.states.get(str(key))
            return self.text(state.label) if state else str(key)
        if field == "priority" and spec is None:
            found = next((p for p in process.priorities if p.id == key), None)
            return self.text(found.label) if found else str(key)
        if field == process.category_field or (field == "category" and spec is None):
            return self._category(str(key))
        if field == "assignee" or (spec is not None and spec.type == "user"):
            return self.people.get(str(key), str(key))
        if spec is not None:
            return display(spec, key, self.locale) or str(key)
        return str(key)

    def _category(self, key: str) -> str:
        category = self.process.categories.get(key)
        if category is None:
            return key
        parents = [self.process.categories[p] for p in category.path
                   if p in self.process.categories]
        return " / ".join(self.text(c.label) for c in parents)


def line_label(definition: DefinitionSet, report: Report, field: str, key: object,
               locale: str, _: Translate, people: Mapping[str, str] | None = None) -> str:
    """The label of a line of ``report``'s table for dimension ``field``, whose value is
    ``key``, as the report's table shows it."""
    labeller = _Labeller(definition, definition.process(report.process), locale, _,
                         people or {})
    return labeller.value(field, key)
