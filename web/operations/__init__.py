"""Operations: the outbox's e-mails, sending a failed one again, the e-mails of a case and
resending its survey invitation, and each user's dashboard.

The outbox page lists every e-mail the reader's read rules let them see (sent, waiting, failed
with the reason), so it is for the organisation's ``admin_roles``, as the definition screens
are. The e-mails of one case are on the case page for whoever reads the case; the recipient
and subject only for those who may see its personal data.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from qmsflow.engine.machine import Refused
from qmsflow.engine.persistence import CaseNotFound, History, operations
from qmsflow.engine.persistence import outbox as messages
from qmsflow.engine.surveys import invitation
from qmsflow.engine.values import INTEGER_MAX

from .. import guards
from ..auth import login_required, service, web_client
from ..cases.views import person
from ..i18n import definition, label
from ..i18n import gettext as _

bp = Blueprint("operations", __name__, template_folder="templates")

#: E-mails on one page of the outbox.
PER_PAGE = 50
#: The last page anyone can ask for (a database offset must stay small).
MAX_PAGE = 100_000


def ops() -> operations.Operations:
    """The outbox operations over this application's case service."""
    return operations.Operations(service())


def status_words() -> dict[str, str]:
    """An e-mail's or an in-app notice's status as staff read it."""
    return {operations.STATUSES[0]: _("Failed"), operations.STATUSES[1]: _("Waiting"),
            operations.STATUSES[2]: _("Sent"), operations.NOTICE_STATUSES[0]: _("Unread"),
            operations.NOTICE_STATUSES[1]: _("Read")}


def template_label(template: str) -> str:
    """A notification template by its label in the reader's language (its id if unknown)."""
    found = definition().templates.get(template)
    return label(found.label) if found is not None else template


@bp.app_context_processor
def navigation() -> dict[str, object]:
    """Template helpers: the status words and template labels of e-mails."""
    return {"email_status": status_words, "template_label": template_label}


# -- the outbox --------------------------------------------------------------------------------

def _only_admins() -> None:
    if not current_user.is_admin:
        abort(403)


@bp.route("/operations/outbox")
@login_required
def outbox() -> str:
    """The e-mails of the outbox (or, with ``channel=in_app``, the notices shown on users'
    inboxes), newest first, of one status or all, a page at a time."""
    _only_admins()
    channel = request.args.get("channel") or messages.EMAIL
    if channel not in operations.CHANNEL_STATUSES:
        abort(400, description=_("Show the e-mails or the in-app notices."))
    statuses = operations.CHANNEL_STATUSES[channel]
    status = request.args.get("status") or None
    if status is not None and status not in statuses:
        abort(400, description=_("Show the e-mails that are failed, waiting or sent.")
              if channel == messages.EMAIL else _("Show the notices that are unread or read."))
    try:
        number = guards.counting_number(request.args.get("page"), "page", MAX_PAGE) or 1
    except guards.BadInput as error:
        guards.refuse(error)
    page = ops().messages(current_user.id, status, number, PER_PAGE, channel)
    shown = None if channel == messages.EMAIL else channel  # the e-mails keep their plain address
    return render_template(
        "operations/outbox.html", page=page, status=status, statuses=statuses,
        channel=shown, person=person,
        page_url=lambda n: url_for("operations.outbox", channel=shown, status=status,
                                   page=n))


@bp.route(f"/operations/outbox/<int(max={INTEGER_MAX}):message_id>/retry", methods=["POST"])
@login_required
def retry(message_id: int) -> BaseResponse:
    """Queue a failed e-mail to be sent again; back to the outbox as it was shown."""
    _only_admins()
    try:
        ops().retry(current_user.id, message_id, web_client())
    except CaseNotFound:
        abort(404)
    except operations.NotRetryable:
        flash(_("This e-mail was not sent again: only an e-mail that failed while being sent "
                "can be. One without an address needs the address filled in on its case."),
              "error")
    else:
        flash(_("The e-mail is waiting to be sent again."), "success")
    status = request.form.get("status")
    return redirect(url_for("operations.outbox",
                            status=status if status in operations.STATUSES else None))


# -- the e-mails of a case ---------------------------------------------------------------------

@dataclass(frozen=True)
class ShownSurvey:
    """A survey a case sent: its label, whether it may be answered still (then its invitation
    can be resent), and what became of it otherwise."""

    id: str
    label: str
    open: bool
    state: str


@dataclass(frozen=True)
class CaseEmails:
    """What the case page shows of a case's e-mails (see ``cases/_emails.html``)."""

    messages: tuple[operations.MessageRecord, ...]
    surveys: tuple[ShownSurvey, ...]
    may_resend: bool


def _survey_state(error: Refused) -> str | None:
    """Why a survey's invitation is not resent, in words; None when it was never sent."""
    code = error.reasons[0].code if error.reasons else ""
    words = {"answered": _("Answered"), "expired": _("No longer open for an answer"),
             "voided": _("The case is voided")}
    return None if code in ("not_sent", "unknown") else words.get(code, str(error))


def case_emails(found: History) -> CaseEmails:
    """The e-mails of the case ``found`` as the signed-in user may see them, and the surveys
    it sent with whether their invitation may be resent."""
    case = found.case
    messages = ops().case_messages(current_user.id, case.number)
    process = found.definition.process(case.process)
    now = service().now()
    surveys = []
    for survey in process.surveys.values():
        try:
            invitation(found.definition, case, survey.id, now)
        except Refused as error:
            state = _survey_state(error)
            if state is not None:
                surveys.append(ShownSurvey(survey.id, label(survey.label), False, state))
        else:
            surveys.append(ShownSurvey(survey.id, label(survey.label), found.voided_at is None,
                                       _("Open for an answer")))
    return CaseEmails(tuple(messages), tuple(surveys), found.visibility.pii)


@bp.route("/cases/<number>/surveys/<survey_id>/resend", methods=["POST"])
@login_required
def resend(number: str, survey_id: str) -> BaseResponse:
    """Send a survey's invitation again to the address the case holds now."""
    try:
        queued = ops().resend_survey(current_user.id, number, survey_id, web_client())
    except CaseNotFound:
        abort(404)
    except Refused as error:
        flash(_("The invitation was not sent again: %(why)s",
                why=_survey_state(error) or _("the case never sent this survey")), "error")
    else:
        if queued:
            flash(_("The invitation is waiting to be sent again."), "success")
    return redirect(url_for("cases.case", number=number) + "#emails-title")


from . import dashboard  # noqa: E402,F401 - its routes join this blueprint

