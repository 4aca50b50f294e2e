"""Errors of the JSON API as ``application/problem+json`` (RFC 9457).

Each answer has a ``title``, a ``detail`` a person can act on (in the request's language), and
for refused inputs ``errors``: one entry per problem with a stable ``code``, the ``field`` and a
JSON ``pointer`` into the request body. Nothing is saved when a request fails, and no answer
carries a traceback: an unexpected failure is logged and answered as a problem too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from qmsflow.engine.errors import QmsflowError
from qmsflow.engine.machine import Reason, Refused
from qmsflow.engine.model import Process
from qmsflow.engine.persistence import AuthenticationFailed, DatabaseError

from .. import explain
from ..i18n import label

PROBLEM_JSON = "application/problem+json"
# Refusals that no other input would change: the user may not take the step at all (403).
FORBIDDEN = frozenset({"role", "authority", "separation", "user"})


class ApiProblem(QmsflowError):
    """An error answer: raised anywhere in a view, sent as ``application/problem+json``.

    ``kind`` names the problem type (``urn:qmsflow:problem:KIND``); ``extra`` are further
    members, e.g. ``current_version`` of a conflict.
    """

    def __init__(self, status: int, kind: str, title: str, detail: str,
                 errors: Iterable[Mapping[str, Any]] = (),
                 headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.body: dict[str, Any] = {
            "type": f"urn:qmsflow:problem:{kind}", "title": title, "status": status,
            "detail": detail, "instance": request.path, **extra}
        listed = [dict(error) for error in errors]
        if listed:
            self.body["errors"] = listed
        self.headers = dict(headers or {})

    def response(self) -> Response:
        """The answer to send."""
        sent = json_response(self.body, self.status, PROBLEM_JSON)
        sent.headers.update(self.headers)
        return sent


def json_response(data: Any, status: int = 200, mimetype: str = "application/json"
                  ) -> Response:
    """A JSON answer that no cache keeps (case data is personal and confidential)."""
    sent = Response(json.dumps(data, ensure_ascii=False, default=str), status,
                    mimetype=mimetype)
    sent.headers["Cache-Control"] = "no-store"
    return sent


def error(code: str, detail: str, **where: Any) -> dict[str, Any]:
    """One entry of ``errors``; ``where`` (field, pointer, parameter, facts) when given."""
    return {"code": code, "detail": detail, **{k: v for k, v in where.items() if v is not None}}


def malformed(detail: str, errors: Iterable[Mapping[str, Any]] = ()) -> ApiProblem:
    """400: the request cannot be read as the document describes it."""
    return ApiProblem(400, "malformed", _("The request is malformed"), detail, errors)


def not_found(detail: str) -> ApiProblem:
    """404: no such case, process, step or address."""
    return ApiProblem(404, "not-found", _("Not found"), detail)


def reason(process: Process | None, why: Reason, request_side: bool = False
           ) -> dict[str, Any]:
    """An engine reason as an ``errors`` entry; ``request_side`` adds where in the body."""
    pointer = None
    if request_side:
        pointer = {"signature": "/password", "reason": "/reason"}.get(why.code) or (
            f"/values/{why.field}" if why.field else None)
    return error(why.code, sentence(process, why), field=why.field, pointer=pointer,
                 facts=dict(why.details) or None)


def _value_rule(facts: Mapping[str, str]) -> str | None:
    """The words of a value's broken rule (the engine's ``rule`` fact) in the request's
    language, as the web's forms say it; None for a rule without words of its own."""
    rule = facts.get("rule")
    words: Callable[[], str] | None = {
        "characters": lambda: _(
            "Remove the control or direction characters (they may be invisible): line breaks "
            "and tabs are allowed only in long text."),
        "email": lambda: _("Enter one e-mail address, e.g. name@example.com (no list, no "
                           "name)."),
        "phone": lambda: _("Enter a valid phone number."),
        "pattern": lambda: _("Enter a value in the expected format."),
        "places": lambda: _("Enter an amount with at most 2 decimal places."),
        "digits": lambda: _(
            "Enter a number with at most %(digits)s digits before the point and %(places)s "
            "after it.", digits=facts.get("digits", ""), places=facts.get("places", "")),
        "number_text": lambda: _("Enter a number of at most %(count)s characters.",
                                 count=facts.get("count", "")),
        "date_range": lambda: _("Enter a date between %(min)s and %(max)s.",
                                min=facts.get("min", ""), max=facts.get("max", "")),
        "choice": lambda: _("Not a valid choice."),
        "too_short": lambda: _("Enter at least %(min)s characters.", min=facts.get("min", "")),
        "too_long": lambda: _("Enter at most %(max)s characters (this has %(count)s).",
                              max=facts.get("max", ""), count=facts.get("count", "")),
        "minimum": lambda: _("Enter a number of at least %(min)s.", min=facts.get("min", "")),
        "maximum": lambda: _("Enter a number of at most %(max)s.", max=facts.get("max", "")),
        "whole": lambda: _("Enter a whole number from %(min)s to %(max)s.",
                           min=facts.get("min", ""), max=facts.get("max", "")),
        "number": lambda: _("Enter a number."),
        "yes_no": lambda: _("Enter yes or no."),
        "date": lambda: _("Enter a date as YYYY-MM-DD."),
        "datetime": lambda: _("Enter a date and time with its offset, e.g. "
                              "2026-03-02T09:30:00+08:00."),
        "timezone": lambda: _("Enter a date and time with its offset, e.g. "
                              "2026-03-02T09:30:00+08:00."),
    }.get(rule or "")
    return words() if words else None


def sentence(process: Process | None, why: Reason) -> str:
    """One refusal reason in the request's language: a value's broken rule as the web's forms
    word it, the others as the web's pages do (:mod:`..explain`)."""
    field = process.fields.get(why.field) if process is not None and why.field else None
    rule = _value_rule(dict(why.details)) if why.code == "invalid" else None
    if rule is None:
        return explain.reason(process, why)
    worded: str = _("%(field)s: %(problem)s", field=label(field.label) if field else why.field,
                    problem=rule)
    return worded


def refusal(process: Process, refused: Refused | AuthenticationFailed) -> ApiProblem:
    """The answer to a refused step: 403 when the user may not take it at all, 422 when the
    values or the case's state are the matter (the same reasons the web shows)."""
    if isinstance(refused, AuthenticationFailed):
        if refused.why == "wrong":
            message = _("The password is wrong, so the signature was not given; nothing was "
                        "saved.")
            return ApiProblem(422, "refused", _("Refused"), message,
                              [error("password", message, pointer="/password")])
        # "locked" here is the signer's own signing pause (its wrong signature passwords),
        # worded as the web's step form words it; sign-in locks stop the token itself.
        message = _("Signing is paused for a while after several wrong passwords; "
                    "nothing was saved. Try again later, or ask an administrator.") if (
            refused.why == "locked") else _(
            "The user of this token is disabled. Ask an administrator.")
        return ApiProblem(403, "forbidden", _("Not allowed"), message)
    codes = {why.code for why in refused.reasons}
    sentences = " ".join(dict.fromkeys(sentence(process, why) for why in refused.reasons))
    if "version" in codes:  # the served definitions are not published: the operator's matter
        return ApiProblem(503, "unavailable", _("Try again later"), sentences)
    forbidden = bool(codes & FORBIDDEN)
    return ApiProblem(403 if forbidden else 422, "forbidden" if forbidden else "refused",
                      _("Not allowed") if forbidden else _("Refused"),
                      _("Nothing was saved: %(why)s", why=sentences),
                      [reason(process, why, request_side=True) for why in refused.reasons])


def http_problem(failure: HTTPException, documents: str, max_body: int) -> Response:
    """An HTTP error (unknown address, method, too large...) as a problem."""
    code = failure.code or 500
    if code == 413:
        return ApiProblem(413, "too-large", _("The request is too large"), _(
            "A request to the API may have at most %(size)s KB.", size=max_body // 1024)
        ).response()
    if isinstance(failure, MethodNotAllowed):
        allowed = ", ".join(sorted(failure.valid_methods or ()))
        return ApiProblem(405, "method", _("Method not allowed"), _(
            "This address takes %(methods)s.", methods=allowed),
            headers={"Allow": allowed}).response()
    if code == 404:
        return not_found(_("There is no such address in the API: the OpenAPI document at "
                           "%(url)s lists them.", url=documents)).response()
    return ApiProblem(code, "malformed", failure.name, failure.description or failure.name
                      ).response()


def install(bp: Blueprint, documents: str, max_body: int) -> None:
    """Answer every error of ``bp``'s views as a problem."""

    @bp.errorhandler(ApiProblem)
    def problem(raised: ApiProblem) -> Response:
        return raised.response()

    @bp.errorhandler(DatabaseError)
    def database(failure: DatabaseError) -> Response:
        current_app.logger.error("API: database error: %s", failure)
        return ApiProblem(503, "unavailable", _("Try again later"), _(
            "The database did not answer, so nothing was saved. Try again in a moment."),
            headers={"Retry-After": "5"}).response()

    def http(failure: HTTPException) -> Response:
        return http_problem(failure, documents, max_body)

    # Per code as well: the application's handlers for these codes, which render HTML
    # pages, would otherwise win over a handler for HTTPException.
    for code in (400, 403, 404, 405, 413, 415):
        bp.register_error_handler(code, http)
    bp.register_error_handler(HTTPException, http)

    @bp.errorhandler(Exception)
    def failed(_failure: Exception) -> Response:
        current_app.logger.exception("API: unexpected error")
        return ApiProblem(500, "failed", _("Something went wrong"), _(
            "The server could not finish this request and saved nothing. Try again; if it "
            "happens again, tell your quality administrator the time it happened.")
        ).response()
