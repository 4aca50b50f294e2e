"""The reports page and its downloads (Excel, CSV) for a month picked by the reader."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Response, current_app, render_template, request

from qmsflow.engine.persistence import reports

from ..i18n import definition, gettext, locale
from . import bp
from .charts import layout
from .export import csv_bytes, report_views, workbook_bytes
from .tables import MonthError, parse_month, previous_month

FILES = {
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             workbook_bytes),
    "csv": ("text/csv; charset=utf-8", csv_bytes),
}


def _default_month() -> reports.Period:
    """The previous month, in the organisation's time zone (a monthly report is due for it)."""
    runtime = current_app.extensions["qmsflow"]
    zone = ZoneInfo(definition().organisation.timezone)
    return previous_month(runtime.clock().astimezone(zone).date())


def error_page(title: str, message: str, status: int = 400) -> tuple[str, int]:
    """A report request refused in words, on the error page, with its status."""
    return render_template("error.html", status=status, title=title, message=message), status


def asked_month() -> tuple[reports.Period, str | None]:
    """The month asked for, or the default with the reason the asked one was refused."""
    asked = (request.args.get("month") or "").strip()
    if not asked:
        return _default_month(), None
    try:
        return parse_month(asked), None
    except MonthError:
        return _default_month(), gettext(
            "“%(month)s” is not a month. Pick one, or write it as YYYY-MM (e.g. 2026-10).",
            month=asked)


@bp.route("/")
def index() -> tuple[str, int]:
    """Every report of the served set for the month picked (default: the previous month)."""
    served = definition()
    period, problem = asked_month()
    views = report_views(current_app.extensions["qmsflow"].sessions, served, period,
                         list(served.reports), locale(), gettext)
    return render_template("reports/index.html", views=views, shape=layout, period=period,
                           problem=problem), 400 if problem else 200


@bp.route("/download")
def download() -> Response | tuple[str, int]:
    """The month's reports (all, or those named by ``report``) as ``format`` xlsx or csv."""
    served = definition()
    kind = request.args.get("format", "xlsx")
    if kind not in FILES:
        return error_page(gettext("Unknown file format"), gettext(
            "Reports download as %(formats)s.", formats=", ".join(FILES)))
    period, problem = asked_month()
    if problem:
        return error_page(gettext("Not a month"), problem)
    wanted = request.args.getlist("report") or list(served.reports)
    unknown = [name for name in wanted if name not in served.reports]
    if unknown:
        return error_page(gettext("No such report"), gettext(
            "There is no report %(unknown)s. The reports are: %(known)s.",
            unknown=", ".join(unknown), known=", ".join(served.reports)), 404)
    views = report_views(current_app.extensions["qmsflow"].sessions, served, period, wanted,
                         locale(), gettext)
    mimetype, write = FILES[kind]
    name = f"{served.id}-{wanted[0] if len(wanted) == 1 else 'reports'}-{period}.{kind}"
    return Response(write(views, gettext), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store"})
