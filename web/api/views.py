"""The JSON API: open cases through start steps, read and list cases, take steps.

For other systems (a website's or an app's intake, a WeChat integration). Every request names
its user by a bearer token; nothing is kept in a session or a cookie. Every step goes through
the same :class:`CaseService` as the web, so the same rules hold whatever a client sends: roles,
state, conditions, approval authority, separation of duties, signatures with the password
again, and the row version the client read. Errors are ``application/problem+json`` (RFC 9457)
with a detail a person can act on and one entry per refused input; never a traceback.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import flask_babel
from flask import Blueprint, Flask, Response, current_app, g, request, url_for
from flask.blueprints import BlueprintSetupState
from flask.sessions import SecureCookieSession, SessionInterface, SessionMixin
from flask.wrappers import Request
from werkzeug.exceptions import MethodNotAllowed, NotFound

from qmsflow.engine import clocks as clock_ops
from qmsflow.engine import machine
from qmsflow.engine import values as value_ops
from qmsflow.engine.access import pii_fields
from qmsflow.engine.cases import Actor, Case
from qmsflow.engine.machine import Refused
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import AuthenticationFailed, CaseNotFound, Conflict, History, tokens
from qmsflow.engine.problems import did_you_mean

from .. import i18n
from ..auth import service
from ..cases import views as case_views
from ..i18n import gettext as _
from . import inputs, openapi, problems
from .problems import ApiProblem, json_response, not_found

PREFIX = "/api/v1"
DOCUMENT = PREFIX + "/openapi.json"
MAX_BODY = 1024 * 1024  # a step's inputs are text and numbers: files go through the web

bp = Blueprint("api", __name__, url_prefix=PREFIX)
problems.install(bp, DOCUMENT, MAX_BODY)


def _is_api(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


# -- requests: sessions, language, routing errors, authentication ----------------------------

class _ApiSession(SecureCookieSession):
    """The empty session of an API request: never read from a cookie, never saved."""


class _NoApiSessions(SessionInterface):
    """The application's session interface, except under the API: no cookie is read or set,
    so a browser's web session neither authenticates nor times out an API request."""

    def __init__(self, inner: SessionInterface) -> None:
        self.inner = inner

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if _is_api(request.path):
            return _ApiSession()
        return self.inner.open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, _ApiSession):
            self.inner.save_session(app, session, response)


@bp.record_once
def _install(state: BlueprintSetupState) -> None:
    app = state.app
    assert isinstance(app, Flask)  # registered on a Flask app, not a bare sansio one
    app.session_interface = _NoApiSessions(app.session_interface)


def _set_locale(wanted: str | None) -> None:
    """The request's language: Accept-Language when it names one of the organisation's,
    else ``wanted`` (the token user's), else the organisation's first."""
    known = i18n.locales()
    header = request.headers.get("Accept-Language")
    best = request.accept_languages.best_match(
        [*known, *(tag.replace("-", "_") for tag in known)]) if header else None
    chosen = (best or "").replace("_", "-") or (wanted if wanted in known else known[0])
    g.locale = chosen
    flask_babel.refresh()  # the language may be chosen again once the token's user is known


@bp.before_app_request
def _api_request() -> Response | None:
    """Under the API: the request's language, its size limit, routing errors as problems."""
    if not _is_api(request.path):
        return None
    _set_locale(None)
    request.max_content_length = MAX_BODY
    error = request.routing_exception
    if isinstance(error, NotFound | MethodNotAllowed):
        return problems.http_problem(error, DOCUMENT, MAX_BODY)
    return None


def _bearer() -> tokens.Bearer:
    """The token's user, or 401."""
    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="qmsflow"'}
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiProblem(401, "unauthenticated", _("Authentication needed"), _(
            "Send your API token in the Authorization header: 'Authorization: Bearer TOKEN'. "
            "An administrator issues tokens with 'qmsflow users token add'."),
            headers=challenge)
    try:
        with service().transaction() as session:
            found = tokens.check(session, token.strip(), service().now())
    except tokens.TokenRefused as refused:
        # A security event; the token itself is never logged, only why it was refused.
        current_app.logger.warning("API token refused (%s) from %s", refused.why,
                                   request.remote_addr)
        detail = {
            "revoked": _("This token was revoked. Ask an administrator for a new one."),
            "disabled": _("The user of this token is disabled. Ask an administrator."),
            "locked": _("The user of this token is locked for a while after failed sign-ins. "
                        "Try again later, or ask an administrator."),
        }.get(refused.why, _("This token is not known: check that it was copied whole, or "
                             "ask an administrator for a new one."))
        raise ApiProblem(401, "unauthenticated", _("Authentication needed"), detail,
                         headers={**challenge, "WWW-Authenticate": 'Bearer realm="qmsflow", '
                                  'error="invalid_token"'}) from None
    _set_locale(found.user.locale)
    return found


def _actor(bearer: tokens.Bearer) -> Actor:
    return bearer.user.actor


def _client(bearer: tokens.Bearer) -> str:
    """Where a step came from, for the audit trail: the token and the address."""
    return f"api token {bearer.token_id} {request.remote_addr or ''}".strip()


# -- answers ----------------------------------------------------------------------------------

def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _case(definition: DefinitionSet, case: Case, actor: Actor,
          voided_at: datetime | None = None, void_reason: str | None = None,
          pii: bool = True) -> dict[str, Any]:
    """A case as the API shows it (see ``{process}.Case`` in the OpenAPI document)."""
    process = definition.process(case.process)
    now = service().now()
    state = process.states.get(case.state)
    final = bool(state and state.final)
    actions = []
    # A closed case offers the steps written for its final state (they stop a deadline that
    # runs after the close); the engine's availability lists exactly those.
    if voided_at is None:
        for step_id, reasons in machine.available(definition, case, actor, now,
                                                  service().linked(case)).items():
            step = process.steps[step_id]
            actions.append({
                "step": step_id, "label": dict(step.label), "allowed": not reasons,
                "reasons": [problems.reason(process, why) for why in reasons],
                "signature": step.signature, "reason_required": step.reason_required,
                "href": url_for("api.act", process_id=process.id, number=case.number,
                                step_id=step_id)})
        actions.sort(key=lambda action: not action["allowed"])
    clocks = []
    for clock in case.clocks.values():
        spec = process.clocks.get(clock.id)
        left = None
        if clock.status != "stopped" and spec is not None:
            parts = clock_ops.time_left(definition, case.process, clock, now)
            left = {"working": parts.working, "overdue": parts.overdue, "days": parts.days,
                    "hours": parts.hours, "minutes": parts.minutes,
                    "text": case_views.time_left_text(parts)}
        clocks.append({
            "id": clock.id, "label": dict(spec.label) if spec else {}, "variant": clock.variant,
            "status": clock.status, "started_at": _time(clock.started_at),
            "due_at": _time(clock.due_at), "warn_at": _time(clock.warn_at),
            "paused_at": _time(clock.paused_at), "stopped_at": _time(clock.stopped_at),
            "late": clock.status == "running" and now >= clock.due_at,
            "warned": clock.warned, "breached": clock.breached, "time_left": left,
            "unofficial_years": list(clock.unofficial_years)})
    category = case.values.get(process.category_field) if process.category_field else None
    # Personal data the reader may not see is absent from the values (never null: null is
    # an empty field), and ``personal_data_hidden`` says so.
    hidden = frozenset() if pii else pii_fields(process)
    stored = value_ops.values_to_json(process, case.values)
    return {
        "number": case.number, "process": case.process, "version": case.version,
        "row_version": case.row_version, "state": case.state,
        "state_label": dict(state.label) if state else {}, "final": final,
        "priority": case.priority, "flags": sorted(case.flags),
        "category": None if category is None else str(category),
        "assignee_role": case.assignee_role, "assignee": case.assignee,
        "created_at": _time(case.created_at), "updated_at": _time(case.updated_at),
        "closed_at": _time(case.closed_at), "voided_at": _time(voided_at),
        "void_reason": void_reason,
        "values": {name: stored[name] for name in process.fields  # in order
                   if name in stored and name not in hidden},
        "personal_data_hidden": not pii,
        "clocks": clocks,
        "links": [{"relation": link.relation,
                   "relation_label": dict(definition.organisation.relation_labels(link.relation)),
                   "process": link.process, "number": link.number,
                   "href": url_for("api.read_case", number=link.number)}
                  for link in case.links],
        "actions": actions,
        "href": url_for("api.read_case", number=case.number),
    }


def _summary(definition: DefinitionSet, case: Case, now: datetime) -> dict[str, Any]:
    process = definition.process(case.process)
    state = process.states.get(case.state)
    running = [c.due_at for c in case.clocks.values() if c.status == "running"]
    due = min(running) if running else None
    category = case.values.get(process.category_field) if process.category_field else None
    return {
        "number": case.number, "process": case.process, "version": case.version,
        "row_version": case.row_version, "state": case.state,
        "state_label": dict(state.label) if state else {}, "priority": case.priority,
        "flags": sorted(case.flags), "category": None if category is None else str(category),
        "assignee_role": case.assignee_role, "assignee": case.assignee,
        "due_at": _time(due), "overdue": due is not None and due < now,
        "created_at": _time(case.created_at), "updated_at": _time(case.updated_at),
        "closed_at": _time(case.closed_at),
        "href": url_for("api.read_case", number=case.number)}


def _found(number: str, reader: str, history: bool = False) -> History:
    """The case as ``reader`` may read it: one they may not read is not found, with the same
    problem as a case that does not exist."""
    if not number.isprintable() or len(number) > 100:
        raise not_found(_("There is no case %(number)s.", number=repr(number)))
    try:
        return service().read_case(number, history, reader=reader)
    except CaseNotFound:
        raise not_found(_("There is no case %(number)s: check the number (as printed on "
                          "the case form).", number=number)) from None


# -- the endpoints ----------------------------------------------------------------------------

@bp.get("/openapi.json")
def document() -> Response:
    """The OpenAPI 3.1 document, generated from the served definition set (once per version
    and address: the set is immutable once compiled)."""
    definition = i18n.definition()
    server = request.script_root + PREFIX
    cache = current_app.extensions.setdefault("qmsflow.openapi", {})
    key = (definition.version, server)
    if key not in cache:
        cache[key] = json.dumps(openapi.document(definition, server), ensure_ascii=False)
    sent = Response(cache[key], mimetype="application/json")
    sent.headers["Cache-Control"] = "no-cache"
    return sent


@bp.get("/cases")
def list_cases() -> Response:
    """A page of cases with filters; by default the user's open cases and queues."""
    bearer = _bearer()
    definition = i18n.definition()
    filters, page, per_page = inputs.filters(definition, request.args)
    found = service().list_cases(bearer.user.id, filters, page, per_page)
    now = service().now()
    cases = [_summary(service().definition(case.version), case, now) for case in found.rows]
    later = page * per_page < found.total or found.more
    following: dict[str, Any] = {**request.args.to_dict(), "page": page + 1}
    return json_response({
        "cases": cases, "page": page, "per_page": per_page, "pages": found.pages,
        "total": found.total, "more": found.more,
        "next": url_for("api.list_cases", **following) if later else None})


@bp.get("/cases/<number>")
def read_case(number: str) -> Response:
    """A case: values, state, priority, flags, assignee, clocks, links, and its actions."""
    bearer = _bearer()
    found = _found(number, bearer.user.id)
    return json_response(_case(found.definition, found.case, _actor(bearer),
                               found.voided_at, found.void_reason, found.visibility.pii))


@bp.post("/processes/<process_id>/starts/<step_id>")
def start(process_id: str, step_id: str) -> Response:
    """Open a case through a start step; 201 with the case and its address."""
    bearer = _bearer()
    definition = i18n.definition()
    process = definition.processes.get(process_id)
    if process is None:
        hint = did_you_mean(process_id, definition.processes)
        raise not_found(_("There is no process '%(name)s'.", name=process_id)
                        + (f" ({hint})" if hint else ""))
    step = process.starts.get(step_id)
    if step is None:
        hint = did_you_mean(step_id, process.starts)
        raise not_found(_("'%(step)s' is not a start step of '%(process)s'; its start steps "
                          "are: %(known)s.", step=step_id, process=process.id,
                          known=", ".join(process.starts)) + (f" ({hint})" if hint else ""))
    body = inputs.body(step)
    values = inputs.inputs(process, step, body["values"])
    try:
        case = service().create_case(process.id, step.id, bearer.user.id, values,
                                     password=body.get("password") or None,
                                     reason=body.get("reason") or None, client=_client(bearer))
    except (Refused, AuthenticationFailed) as error:
        raise problems.refusal(process, error) from None
    sent = json_response(_as_read(case, bearer), 201)
    sent.headers["Location"] = url_for("api.read_case", number=case.number)
    return sent


@bp.post("/processes/<process_id>/cases/<number>/steps/<step_id>")
def act(process_id: str, number: str, step_id: str) -> Response:
    """Take a step on a case, at the version the client read."""
    bearer = _bearer()
    found = _found(number, bearer.user.id)
    case = found.case
    if case.process != process_id:
        steps_url = f"{PREFIX}/processes/{case.process}/cases/{number}/steps/"
        raise not_found(_("Case %(number)s is a case of '%(process)s': its steps are under "
                          "%(url)s.", number=number, process=case.process, url=steps_url))
    process = found.definition.process(case.process)
    step = process.steps.get(step_id)
    if step is None:
        hint = did_you_mean(step_id, process.steps)
        raise not_found(_("'%(process)s' has no step '%(step)s'.", process=process.id,
                          step=step_id) + (f" ({hint})" if hint else ""))
    body = inputs.body(step)
    values = inputs.inputs(process, step, body["values"])
    try:
        done = service().apply_step(
            number, step.id, bearer.user.id, values, expected_version=body["expected_version"],
            password=body.get("password") or None, reason=body.get("reason") or None,
            client=_client(bearer))
    except Conflict:
        now = service().read_case(number, history=False,
                                  reader=bearer.user.id).case.row_version
        raise ApiProblem(409, "conflict", _("The case changed"), _(
            "Case %(number)s changed since you read it (it is at version %(now)s, you sent "
            "%(sent)s), so nothing was saved. Read it again, check what changed, and send the "
            "step again.", number=number, now=now, sent=body["expected_version"]),
            current_version=now) from None
    except (Refused, AuthenticationFailed) as error:
        raise problems.refusal(process, error) from None
    return json_response(_as_read(done, bearer))


def _as_read(done: Case, bearer: tokens.Bearer) -> dict[str, Any]:
    """A case just opened or moved, as its author may now read it: when the step took it out
    of their sight (another queue, a role no rule names), without its personal data."""
    try:
        seen = service().read_case(done.number, history=False, reader=bearer.user.id)
    except CaseNotFound:
        return _case(service().definition(done.version), done, _actor(bearer), pii=False)
    return _case(seen.definition, seen.case, _actor(bearer), seen.voided_at, seen.void_reason,
                 seen.visibility.pii)
