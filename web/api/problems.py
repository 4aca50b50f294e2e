"""Errors of the JSON API as ``application/problem+json`` (RFC 9457).

Each answer has a ``title``, a ``detail`` a person can act on (in the request's language), and
for refused inputs ``errors``: one entry per problem with a stable ``code``, the ``field`` and a
JSON ``pointer`` into the request body. Nothing is saved when a request fails, and no answer
carries a traceback: an unexpected failure is logged and answered as a problem too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from qmsflow.engine.errors import QmsflowError
from qmsflow.engine.machine import Reason, Refused
from qmsflow.engine.model import Process
from qmsflow.engine.persistence import AuthenticationFailed, DatabaseError

from .. import explain

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
    return error(why.code, explain.reason(process, why), field=why.field, pointer=pointer,
                 facts=dict(why.details) or None)


def refusal(process: Process, refused: Refused | AuthenticationFailed) -> ApiProblem:
    """The answer to a refused step: 403 when the user may not take it at all, 422 when the
    values or the case's state are the matter (the same reasons the web shows)."""
    if isinstance(refused, AuthenticationFailed):
        if refused.why == "wrong":
            message = _("The password is wrong, so the signature was not given; nothing was "
                        "saved.")
            return ApiProblem(422, "refused", _("Refused"), message,
                              [error("password", message, pointer="/password")])
        message = _("Your account is now locked after too many wrong passwords; nothing was "
                    "saved.") if refused.why == "locked" else _(
            "The user of this token is disabled. Ask an administrator.")
        return ApiProblem(403, "forbidden", _("Not allowed"), message)
    codes = {why.code for why in refused.reasons}
    sentences = " ".join(explain.reasons(process, refused.reasons))
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
