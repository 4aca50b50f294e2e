"""Reports: the monthly statistics and KPIs of the served definition set, on a page and as files.

Every report the definitions declare, for a month (default: the previous one, the month a
monthly report is due for), with its tables labelled in the reader's language, targets red and
green, bar charts drawn as inline SVG on the server, and Excel and CSV downloads. Reports show
every case of a process, so they are for the organisation's ``admin_roles``.
"""

from __future__ import annotations

from collections.abc import Collection

from flask import Blueprint, render_template, request
from flask_login import current_user

from qmsflow.engine.errors import QmsflowError
from qmsflow.engine.model import Process

from ..auth import login_required
from ..i18n import definition, role_label
from ..i18n import gettext as _

bp = Blueprint("reports", __name__, template_folder="templates", url_prefix="/reports")


def reader_roles() -> tuple[str, ...]:
    """The roles that may read reports: the organisation's administrators."""
    return definition().organisation.admin_roles


def may_read(roles: Collection[str]) -> bool:
    """Whether a user with ``roles`` may read the reports."""
    return bool(set(roles) & set(reader_roles()))


@bp.app_context_processor
def navigation() -> dict[str, object]:
    """``may_see_reports()`` for the main navigation's link."""

    def may_see_reports() -> bool:
        return bool(current_user and current_user.is_authenticated
                    and may_read(current_user.roles))

    return {"may_see_reports": may_see_reports}


def works(process: Process, roles: Collection[str]) -> bool:
    """Whether one of ``roles`` works ``process``: takes one of its steps or holds the queue
    of one of its states. Such a user sees the process's key figures on their dashboard,
    counted over the cases they may read, and may open the cases behind each figure."""
    wanted = set(roles)
    return any(wanted & set(step.roles) for step in process.every_step()) or any(
        state.owner in wanted for state in process.states.values())


class NotAReader(QmsflowError):
    """The signed-in user holds none of the roles that read reports."""


@bp.before_request
@login_required
def only_readers() -> None:
    """Every report page and file needs one of the roles that read reports; the cases behind
    a figure are also open to those who work its process (their dashboard links there), and
    list only the cases the reader may read (:mod:`.drill`)."""
    if request.endpoint == "reports.cases":
        return
    if not may_read(current_user.roles):
        raise NotAReader


@bp.errorhandler(NotAReader)
def not_a_reader(_error: NotAReader) -> tuple[str, int]:
    roles = ", ".join(role_label(role) for role in reader_roles())
    return render_template(
        "error.html", status=403, title=_("Reports are not open to your roles"),
        message=_("Reports show every case of a process, so only these roles may read them: "
                  "%(roles)s. Ask your quality administrator if you need a report.",
                  roles=roles)), 403


from . import drill, views  # noqa: E402,F401 - their routes join this blueprint
