"""Drill-down: the cases a report's figure counts, listed as the inbox lists cases.

The figure is named by the report, the month asked for, the table's dimension and line, the
measure, and whether it is the previous period's (:class:`.tables.Drill`); the cases are those
the report's own query counts (:func:`.reports.counted`: same filter, same period, voided
cases left out), and the list shows only those the reader's read rules let them read.
"""

from __future__ import annotations

import json

from flask import abort, current_app, render_template, request, url_for
from flask_login import current_user

from qmsflow.engine.persistence import Filters, reports

from .. import guards
from ..auth import service
from ..i18n import definition, gettext, label, locale
from ..operations.lists import case_tables
from . import NotAReader, bp, may_read, works
from .tables import dimension_title, line_label
from .views import asked_month, error_page

#: Cases on one page of a drill-down.
PER_PAGE = 50
MAX_PAGE = 1000


@bp.route("/<report_id>/cases")
def cases(report_id: str) -> str | tuple[str, int]:
    """The cases behind one figure of report ``report_id`` (see the module)."""
    served = definition()
    report = served.reports.get(report_id)
    if report is None:
        abort(404)
    reader = may_read(current_user.roles)
    if not reader and not (
            report.process in served.processes
            and works(served.processes[report.process], current_user.roles)):
        raise NotAReader
    period, problem = asked_month()
    if problem:
        return error_page(gettext("Not a month"), problem)
    args = request.args
    dimensions = [dimension for dimension, _field in report.dimensions]
    measures = {measure.id: measure for measure in report.measures}
    dimension, measure = args.get("dimension") or None, args.get("measure") or None
    if (dimension is not None and dimension not in dimensions) or (
            measure is not None and measure not in measures):
        return error_page(gettext("No such figure"), gettext(
            "The report has no such line or measure. Go back to the report and pick a "
            "figure there."), 404)
    line = args.get("line")
    index = dimensions.index(dimension) if dimension is not None else None
    heading = [label(report.label)]
    if index is not None:
        try:
            key = json.loads(line or "")
        except ValueError:
            return error_page(gettext("No such figure"), gettext(
                "The report has no such line or measure. Go back to the report and pick a "
                "figure there."), 404)
        name, field = report.dimensions[index]
        title = dimension_title(served, report, name, field, locale(), gettext)
        heading.append(f"{title}: {line_label(served, report, field, key, locale(), gettext)}")
    if measure is not None:
        heading.append(label(measures[measure].label))
    previous = args.get("previous") == "1"
    own = reports.own_period(report, period)
    if own is not None and previous:
        own = own.previous()
    try:
        number = guards.counting_number(args.get("page"), "page", MAX_PAGE) or 1
    except guards.BadInput as error:
        guards.refuse(error)
    numbers = reports.counted(current_app.extensions["qmsflow"].sessions, served, report,
                              period, dimension=index, line=line, measure=measure,
                              previous=previous)
    page = service().list_cases(current_user.id, Filters(
        numbers=tuple(numbers), open=None, mine=False), number, PER_PAGE)
    now = service().now()
    return render_template(
        "reports/cases.html", report=report, heading=heading, period=period,
        counted=str(own) if own is not None else gettext("all cases to date"),
        tables=case_tables(page, now), page=page, reader=reader,
        # Only a report reader sees how many cases the figure counts in all; others, whose
        # dashboard counts over the cases they may read, see those.
        found=len(numbers) if reader else page.total,
        limit=reports.DRILL_LIMIT,
        page_url=lambda n: url_for("reports.cases", report_id=report.id,
                                   **{**args.to_dict(), "page": n}))
