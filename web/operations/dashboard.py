"""Each user's dashboard: their overdue cases, what falls due this week, the signature steps
waiting for them, and last month's key figures of the processes they work.

Every list is the user's own cases and their roles' queues, as the inbox shows them; the key
figures are the definitions' KPI reports (reports without dimensions) of the processes in
which one of the user's roles takes a step or holds the queue of a state, counted over the
cases the user may read. Nothing here names a role: the definitions decide.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, render_template
from flask_login import current_user

from qmsflow.engine import machine
from qmsflow.engine.persistence import Filters, Page

from ..auth import login_required, service
from ..i18n import definition, gettext, label, locale
from ..reports import works
from ..reports.tables import Table, previous_month, view
from . import bp, ops
from .lists import case_tables

#: The most cases one list of the dashboard shows (the inbox has them all).
LIMIT = 20
#: How many of the user's open cases are looked at for signature steps they may take.
APPROVAL_SCAN = 200


def end_of_week(now: datetime, zone: str) -> datetime:
    """The end of the local week (Monday to Sunday) holding ``now``, as an aware instant."""
    local = now.astimezone(ZoneInfo(zone))
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday + timedelta(days=7), time(), ZoneInfo(zone))


def _approvals(now: datetime) -> tuple[Page, dict[str, list[str]]]:
    """The user's open cases with a signature step they may take now, and those steps."""
    queue = service().list_cases(current_user.id, Filters(), 1, APPROVAL_SCAN)
    steps: dict[str, list[str]] = {}
    for case in queue.rows:
        version = service().definition(case.version)
        process = version.process(case.process)
        offered = machine.available(version, case, current_user.actor, now,
                                    service().linked(case))
        signed = [label(process.steps[step].label) for step, reasons in offered.items()
                  if not reasons and process.steps[step].signature is not None]
        if signed:
            steps[case.number] = signed
    rows = tuple(case for case in queue.rows if case.number in steps)[:LIMIT]
    return Page(rows, len(steps), 1, LIMIT, queue.more, hidden=queue.hidden), steps


def _key_figures() -> tuple[str, list[tuple[str, str, Table]]]:
    """Last month's KPI reports of the processes the user works, over the cases they may
    read: the month, and (report id, report title, its table); each figure links to the
    cases it counts, as on the reports page."""
    served = definition()
    zone = ZoneInfo(served.organisation.timezone)
    month = previous_month(current_app.extensions["qmsflow"].clock().astimezone(zone).date())
    chosen = [report.id for report in served.reports.values() if not report.dimensions
              and report.process in served.processes
              and works(served.processes[report.process], current_user.roles)]
    results = ops().figures(current_user.id, month, chosen) if chosen else []
    shown = [view(served, served.reports[result.report], result, locale(), gettext)
             for result in results]
    return str(month), [(report.id, report.title, report.tables[0]) for report in shown
                        if report.tables]


@bp.route("/dashboard")
@login_required
def dashboard() -> str:
    """The signed-in user's overdue cases, those due this week, the signature steps waiting
    for them and last month's key figures."""
    now = service().now()
    zone = definition().organisation.timezone
    overdue = service().list_cases(current_user.id, Filters(overdue=True), 1, LIMIT)
    week = service().list_cases(current_user.id, Filters(
        overdue=False, due_before=end_of_week(now, zone)), 1, LIMIT)
    approvals, steps = _approvals(now)
    month, figures = _key_figures()
    return render_template(
        "operations/dashboard.html", lists=[
            ("overdue", gettext("My overdue cases"), overdue, case_tables(overdue, now)),
            ("week", gettext("Due this week"), week, case_tables(week, now)),
            ("approvals", gettext("Waiting for my signature"), approvals,
             case_tables(approvals, now, steps))],
        month=month, figures=figures)
