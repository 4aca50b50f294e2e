"""Retention: the records past retention, legal holds, and the signed disposal of a record.

A thin adapter over :mod:`qmsflow.engine.persistence.retention`. The page is for whoever holds
a role a retention rule names (the quality manager in the bundled set) and for administrators;
each action is checked again by the engine against the record's own rule, and a disposal is
an electronic signature: the password again, as for a signed step.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from qmsflow.engine.persistence import AuthenticationFailed, UserError, retention

from ..account import explain
from ..auth import login_required, service, web_client
from ..i18n import definition, locale
from ..i18n import gettext as _

bp = Blueprint("retention", __name__, template_folder="templates")

#: The longest reference and reason the forms take.
REF_MAX = 200
REASON_MAX = 2000


def _roles() -> frozenset[str]:
    found: frozenset[str] = getattr(current_user, "roles", frozenset())
    return found


def deciders() -> set[str]:
    """The roles a retention rule of the served definitions names."""
    chosen = definition()
    rules = [*(process.retention for process in chosen.processes.values()),
             *(register.retention for register in chosen.registers.values())]
    return {role for rule in rules if rule is not None for role in rule.roles}


def may_see() -> bool:
    """Whether the signed-in user may see the retention page."""
    roles = _roles()
    return bool(roles & (deciders() | set(definition().organisation.admin_roles)))


@bp.app_context_processor
def navigation() -> dict[str, object]:
    """Template helper: whether the navigation shows the retention link."""
    return {"may_see_retention": may_see}


def kinds() -> list[tuple[str, str]]:
    """What a record can be (``case`` or a register with a rule), as the forms offer it."""
    chosen = definition()
    found = [(retention.CASE, _("Case"))] if any(
        process.retention for process in chosen.processes.values()) else []
    return found + [(register.id, str(register.entry_label.get(locale()) or register.id))
                    for register in chosen.registers.values() if register.retention]


def refusal(error: retention.RetentionRefused) -> str:
    """A refused hold, release or disposal in the reader's language."""
    params = {name: str(value) for name, value in error.params.items()}
    texts = {
        "role": lambda: _("This needs one of the roles %(roles)s.", **params),
        "reason": lambda: _("Give a reason: it is recorded in the audit trail."),
        "disposed": lambda: _("%(ref)s was disposed of already.", **params),
        "held": lambda: _("%(ref)s is under legal hold (%(reason)s): release the hold first.",
                          **params),
        "not_past": lambda: _("%(ref)s is kept until %(until)s (%(how)s): it cannot be "
                              "disposed of before.", **params) if params.get("until") else _(
            "%(ref)s is kept: its retention has not started (%(how)s).", **params),
        "already_held": lambda: _("%(ref)s is under legal hold already (%(reason)s).",
                                  **params),
        "not_held": lambda: _("%(ref)s is not under legal hold.", **params),
        "no_rule": lambda: _("%(ref)s: its definition declares no retention, so it is kept "
                             "for ever.", **params),
        "unknown": lambda: _("There is no such record: %(ref)s.", **params),
        "conflict": lambda: _("The record was changed meanwhile: look at it again and "
                              "repeat."),
        "signature": lambda: _("Disposing of a record needs your electronic signature: enter "
                               "your password."),
    }
    found = texts.get(error.code)
    return found() if found is not None else str(error)


def _page(problem: str | None = None, status: int = 200) -> tuple[str, int]:
    with service().transaction() as session:
        today = retention.today_of(definition(), service().now())
        found = [state for state in retention.states(session, definition(), today)
                 if not state.disposed]
    return render_template("retention/index.html", states=found, today=today,
                           kinds=kinds(), problem=problem, form=request.form), status


@bp.route("/retention")
@login_required
def index() -> tuple[str, int]:
    """The records past retention, each with its hold and disposal forms."""
    if not may_see():
        abort(403)
    return _page()


@bp.route("/retention/act", methods=["POST"])
@login_required
def act() -> BaseResponse | tuple[str, int]:
    """Put a record under hold, release it, or dispose of it (signed)."""
    if not may_see():
        abort(403)
    action = request.form.get("action", "")
    what = request.form.get("what", "")
    ref = request.form.get("ref", "").strip()
    reason = request.form.get("reason", "").strip()
    if action not in retention.ACTIONS or what not in dict(kinds()):
        return _page(_("Choose an action and the kind of record from the form."), 400)
    if not ref or len(ref) > REF_MAX or len(reason) > REASON_MAX:
        return _page(_("Give the record's number or key (at most %(ref)s characters) and a "
                       "reason of at most %(reason)s characters.", ref=REF_MAX,
                       reason=REASON_MAX), 422)
    try:
        retention.act(service(), action, what, ref, current_user.id, reason,
                      password=request.form.get("password") or None, client=web_client())
    except retention.RetentionRefused as refused:
        return _page(refusal(refused), 422)
    except AuthenticationFailed as failure:
        return _page(_("Signing is paused for a while after several wrong passwords; nothing "
                       "was disposed of. Try again later, or ask an administrator.")
                     if failure.why == "locked" else _(
                         "The password is wrong, so the disposal was not signed; nothing was "
                         "disposed of."), 422)
    except UserError as wrong:
        return _page(explain(wrong), 422)
    flash({"hold": _("%(ref)s is under legal hold.", ref=ref),
           "release": _("The legal hold on %(ref)s is released.", ref=ref),
           "dispose": _("%(ref)s was disposed of: its content is erased, its audit trail "
                        "keeps your signed decision.", ref=ref)}[action], "success")
    return redirect(url_for("retention.index"))
