"""Customer surveys by link: the survey a case sent, answered without an account.

``/feedback/<token>`` shows the survey's form (its layout from the definitions, in zh-CN or
English: ``?lang=``) and takes the answer. The token is the only credential: signed and
expiring (:mod:`.tokens`). Everything is checked again on the server: the case service
refuses an answer given twice, too late, to a survey the case never sent, or with invalid
values. A link that cannot be used gets a page saying why in plain words and what to do, and
nothing about the case; the survey form shows only the fields its definition lays out, which
the definition loader keeps free of personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.sansio.app import App
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response as BaseResponse

from qmsflow import forms
from qmsflow.engine import machine, surveys
from qmsflow.engine.effects import survey_expiry
from qmsflow.engine.machine import Refused
from qmsflow.engine.model import Process, Survey
from qmsflow.engine.persistence import CaseNotFound, Conflict, History

from .. import i18n
from ..auth import service, web_client
from ..cases.views import value_text
from ..i18n import gettext as _
from . import tokens

__all__ = ["bp"]

bp = Blueprint("surveys", __name__, template_folder="templates",
               url_prefix=tokens.PATH.rstrip("/"))

# Names a survey form may post besides its fields.
CONTROL_NAMES = frozenset({"csrf_token", "submit"})
# Refusals that mean the link has served its time, and those that mean it never named a
# survey this case can take.
GONE = frozenset({"answered", "expired", "voided"})
UNKNOWN = frozenset({"not_sent", "unknown", "version"})


def _keys(app: App) -> tokens.SecretKey:
    """Signing keys, newest last: links made before a key rotation stay readable."""
    return [*(app.config.get("SECRET_KEY_FALLBACKS") or ()), app.config["SECRET_KEY"]]


@bp.before_request
def _language() -> None:
    """The language the customer chose on the page (``?lang=``), else the usual choice."""
    wanted = request.args.get("lang")
    if wanted in i18n.locales():
        g.locale = wanted


@bp.after_request
def _private(response: BaseResponse) -> BaseResponse:
    # A link is a credential: keep its pages out of search engines.
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@dataclass(frozen=True)
class _Link:
    """A usable link: the case as read, its process and the survey it names."""

    token: str
    found: History
    process: Process
    survey: Survey


def _page(status: int, kind: str) -> tuple[str, int]:
    """A page for a link that cannot be used; it names nothing of the case."""
    title, message = {
        "bad": (_("This link does not work"), _(
            "The address may be incomplete or mistyped. Open the link from your e-mail again, "
            "or copy all of it into your browser. If it still does not work, please contact "
            "our service desk.")),
        "expired": (_("This survey has closed"), _(
            "The link could be used for a limited time only, and that time is over. If you "
            "would still like to tell us about our service, please contact our service "
            "desk.")),
        "answered": (_("You have already answered"), _(
            "Thank you: we have received your answers to this survey. Each link can be used "
            "once. If you would like to add something, please contact our service desk.")),
        "voided": (_("This survey is no longer available"), _(
            "The service record this survey belongs to was withdrawn. If you have any "
            "questions, please contact our service desk.")),
    }[kind]
    return render_template("surveys/unavailable.html", title=title, message=message,
                           status=status), status


def _open(raw: str) -> _Link | tuple[str, int]:
    """The case and survey a link names, or the page saying why it cannot be used."""
    keys, clock = _keys(current_app), current_app.extensions["qmsflow"].clock
    try:
        token = tokens.read_token(keys, raw, clock=clock)
        found = service().read_case(token.number, history=False)
    except (tokens.BadToken, CaseNotFound):
        return _page(404, "bad")
    definition, case = found.definition, found.case
    process = definition.process(case.process)
    survey = process.surveys.get(token.survey)
    if survey is None:
        return _page(404, "bad")
    if found.voided_at is not None:
        return _page(410, "voided")
    if any(record.step == survey.step_id for record in case.steps):
        return _page(410, "answered")
    # The age a token may reach depends on the survey it names: read once to learn it, and
    # again with it. The engine's own limit counts from when the case sent the survey.
    max_age = survey_expiry(definition, survey, token.issued_at) - token.issued_at
    now = service().now()
    sent = surveys.sent_at(definition, case, survey, now)
    if sent is None:
        return _page(404, "bad")
    try:
        tokens.read_token(keys, raw, max_age=max_age, clock=clock)
    except tokens.BadToken:
        return _page(410, "expired")
    if now > survey_expiry(definition, survey, sent):
        return _page(410, "expired")
    return _Link(raw, found, process, survey)


@bp.route("/<token>", methods=["GET", "POST"])
def answer(token: str) -> str | BaseResponse | tuple[str, int]:
    """The survey's form; a posted answer is recorded once and thanked for."""
    link = _open(token)
    if not isinstance(link, _Link):
        return link
    found, process, survey = link.found, link.process, link.survey
    case = found.case
    form_class = forms.build_form(found.definition, process, surveys.as_step(survey, case.state),
                                  i18n.locale(), base=FlaskForm, gettext=_)
    values: dict[str, Any] = machine.context(process, case.values, case)
    # The customer answers afresh: the form never shows what staff recorded for the same
    # fields (it starts empty, or with what the customer just sent).
    form = form_class()
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        status, problems, done = _take(link, form, values)
        if done is not None:
            return done
    return render_template(
        "surveys/survey.html", form=form, survey=survey, process=process, number=case.number,
        values=values, display=lambda name: value_text(process, name, values.get(name)),
        problems=problems), status


def _attention() -> str:
    return _("Some answers need your attention: see the messages below.")


def _take(link: _Link, form: Any, values: dict[str, Any]
          ) -> tuple[int, list[str], BaseResponse | tuple[str, int] | None]:
    """Check a posted answer and record it; (status, problems, the response when done)."""
    extra = forms.unexpected(type(form), request.form.keys(), CONTROL_NAMES)
    if extra:
        return 400, [_("The form sent answers it does not ask for. Nothing was saved: please "
                       "open the link again.")], None
    if not forms.validate(form, values):
        return 422, [_attention()], None
    number = link.found.case.number
    try:
        service().answer_survey(number, link.survey.id, forms.inputs(form, values),
                                client=web_client())
    except Refused as refusal:
        codes = {reason.code for reason in refusal.reasons}
        if codes & GONE:
            gone = next(code for code in ("answered", "expired", "voided") if code in codes)
            return 410, [], _page(410, gone)
        rest = forms.attach_reasons(form, refusal.reasons)
        if {reason.code for reason in rest} & UNKNOWN:
            return 404, [], _page(404, "bad")
        if rest:  # nothing the customer can correct; the details are for staff, not here
            return 422, [_("Your answers could not be saved. Please try again later, or "
                           "contact our service desk.")], None
        return 422, [_attention()], None
    except Conflict:
        # Someone answered with the same link at the same moment, or staff changed the case.
        again = _open(link.token)
        if not isinstance(again, _Link):
            return again[1], [], again
        return 409, [_("Your answers could not be saved because the record changed at the "
                       "same moment. Please check them and send them again.")], None
    return 303, [], redirect(url_for("surveys.thanks", token=link.token,
                                     lang=i18n.locale()), 303)


@bp.route("/<token>/thanks")
def thanks(token: str) -> str | BaseResponse | tuple[str, int]:
    """Thanks for an answered survey (the form again while it is not answered)."""
    try:
        read = tokens.read_token(_keys(current_app), token,
                                 clock=current_app.extensions["qmsflow"].clock)
        found = service().read_case(read.number, history=False)
    except (tokens.BadToken, CaseNotFound):
        return _page(404, "bad")
    survey = found.definition.process(found.case.process).surveys.get(read.survey)
    if survey is None:
        return _page(404, "bad")
    if not any(record.step == survey.step_id for record in found.case.steps):
        return redirect(url_for("surveys.answer", token=token, lang=i18n.locale()))
    return render_template("surveys/thanks.html")


@bp.errorhandler(CSRFError)
def _expired_form(_error: CSRFError) -> tuple[str, int]:
    # Raised before the view runs: the language of the page comes from here.
    _language()
    return render_template("surveys/unavailable.html", status=400,
                           title=_("Please send the form again"), message=_(
                               "The page was open for a long time, or your browser did not "
                               "accept this site's cookie, so we could not accept the form. "
                               "Nothing was saved. Open the link again (allowing cookies for "
                               "this site) and send your answers.")), 400
