"""Scheduled work: what the definitions' schedules open in a month (next month by default),
what is still to open and what was opened already, with links to the cases.

A thin adapter over :func:`qmsflow.engine.persistence.schedules.plan`. A user sees the
schedules whose register they may read and whose process they work (take one of its steps or
hold one of its queues); the page opens nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user

from qmsflow.engine.calendar import add_months
from qmsflow.engine.model import Schedule
from qmsflow.engine.occurrences import month_window, next_month
from qmsflow.engine.persistence import schedules

from ..auth import login_required
from ..i18n import definition
from ..i18n import gettext as _

bp = Blueprint("schedules", __name__, template_folder="templates")


def visible(roles: Collection[str]) -> list[Schedule]:
    """The schedules someone holding ``roles`` sees: they read the register and work the
    process."""
    wanted = set(roles)
    found = definition()
    shown = []
    for schedule in found.schedules.values():
        register = found.registers[schedule.register]
        process = found.processes[schedule.process]
        works = any(wanted & set(step.roles) for step in process.every_step()) or any(
            state.owner in wanted for state in process.states.values())
        if register.may_read(wanted) and works:
            shown.append(schedule)
    return shown


@bp.app_context_processor
def navigation() -> dict[str, object]:
    """``may_see_schedules()`` for the main navigation's link."""

    def may_see_schedules() -> bool:
        return bool(current_user and current_user.is_authenticated
                    and visible(current_user.roles))

    return {"may_see_schedules": may_see_schedules}


@bp.route("/scheduled")
@login_required
def scheduled() -> str:
    """A month of scheduled work (``?month=YYYY-MM``, default next month)."""
    service = current_app.extensions["qmsflow"].service
    month = (request.args.get("month") or "").strip()
    if month:
        try:
            first, last = month_window(month)
        except ValueError:
            abort(400, description=_("The month asked for does not exist: write it as "
                                     "YYYY-MM, for example 2027-01."))
    else:
        first, last = next_month(schedules.local_today(definition(), service.now()))
    shown = {schedule.id: schedule for schedule in visible(current_user.roles)}
    planned = [item for item in schedules.plan(service, first, last)
               if item.schedule in shown] if shown else []
    # A case opened by a schedule is named only to those its read rules let read it.
    readable = service.readable_numbers(
        {item.case_number for item in planned if item.case_number}, current_user.id)
    return render_template(
        "schedules/month.html", planned=planned, readable=readable, schedules=shown,
        first=first, last=last,
        processes=definition().processes,
        earlier=(first - timedelta(days=1)).strftime("%Y-%m"),
        later=add_months(first, 1).strftime("%Y-%m"),
        waiting=sum(1 for item in planned if item.case_number is None))
