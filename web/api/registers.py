"""The JSON API of the registers: list and search entries, read one, create one, change one
at the row version read. The same rules as the web pages: a register the token's user may not
read answers 404 like one that does not exist, and changing entries needs an edit role (403).
"""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, request, url_for

from qmsflow.engine.model import DefinitionSet, Register
from qmsflow.engine.persistence import By, registers
from qmsflow.engine.problems import did_you_mean
from qmsflow.engine.registers import EntryInvalid
from qmsflow.engine.values import INTEGER_MAX, text_pattern, to_json

from .. import i18n
from ..i18n import gettext as _
from . import inputs
from .problems import ApiProblem, error, json_response, malformed, not_found
from .views import _bearer, _client, bp

#: Entries per page of a list, by default and at most.
PER_PAGE = 50
MAX_PER_PAGE = 200
#: What the search may hold: one line of text (the document says the same).
QUERY_PATTERN = text_pattern(False, False)
#: The last page anyone can ask for (a database offset must stay small).
MAX_PAGE = 10_000


def _register(definition: DefinitionSet, register_id: str, roles: frozenset[str],
              edit: bool = False) -> Register:
    found = definition.registers.get(register_id)
    if found is None or not found.may_read(roles):
        readable = [r for r, reg in definition.registers.items() if reg.may_read(roles)]
        hint = did_you_mean(register_id, readable)
        raise not_found(_("There is no register '%(name)s'.", name=register_id)
                        + (f" ({hint})" if hint else ""))
    if edit and not found.may_edit(roles):
        raise ApiProblem(403, "forbidden", _("Not allowed"), _(
            "Your roles may read this register but not change it."))
    return found


def _entry(register: Register, entry: registers.EntryRecord) -> dict[str, Any]:
    return {
        "register": register.id, "key": entry.key, "title": entry.title,
        "values": {name: to_json(register.fields[name], value)
                   for name, value in entry.values.items()},
        "row_version": entry.row_version, "created_at": entry.created_at.isoformat(),
        "updated_at": entry.updated_at.isoformat(),
        "href": url_for("api.read_entry", register_id=register.id, key=entry.key)}


def _body(keys: tuple[str, ...]) -> dict[str, Any]:
    """The request body: an object with ``values`` and the ``keys`` the operation takes."""
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise ApiProblem(415, "media-type", _("Send JSON"), _(
            "Send the body as JSON with the header 'Content-Type: application/json'."))
    try:
        data = inputs.parse(request.get_data(cache=False))
    except (ValueError, RecursionError) as failure:
        raise malformed(_("The body is not valid JSON: %(error)s", error=str(failure)[:200])
                        ) from None
    inputs.check_text(data)
    if not isinstance(data, dict) or not isinstance(data.get("values", {}), dict):
        raise malformed(_("The body must be a JSON object, e.g. {\"values\": {...}}."))
    unexpected = [key for key in data if key != "values" and key not in keys]
    if unexpected:
        raise malformed(_("This request takes no '%(key)s'.", key=unexpected[0]), [
            error("unexpected", _("This request takes no '%(key)s'.", key=key),
                  pointer=f"/{key}") for key in unexpected])
    return data


def _refused(invalid: EntryInvalid) -> ApiProblem:
    errors = [error("invalid", message, field=name, pointer=f"/values/{name}")
              for name, message in invalid.problems.items()]
    return ApiProblem(422, "refused", _("Refused"), "; ".join(
        f"{name}: {message}" for name, message in invalid.problems.items()), errors)


def _number(name: str, default: int, high: int) -> int:
    given = request.args.get(name)
    if given is None or given == "":
        return default
    if not (given.isascii() and given.isdigit() and len(given) <= len(str(high))
            and 1 <= int(given) <= high):
        raise malformed(_("'%(name)s' must be a whole number from 1 to %(high)s.", name=name,
                          high=high), [error("parameter", _(
                              "'%(name)s' must be a whole number from 1 to %(high)s.",
                              name=name, high=high), parameter=name)])
    return int(given)


def _sessions() -> Any:
    return current_app.extensions["qmsflow"].sessions


@bp.get("/registers/<register_id>/entries")
def list_entries(register_id: str) -> Any:
    """A page of a register's entries, those matching ``q`` when given, by key."""
    bearer = _bearer()
    definition = i18n.definition()
    register = _register(definition, register_id, bearer.user.actor.roles)
    query = request.args.get("q") or ""
    if len(query) > 200 or not re.fullmatch(QUERY_PATTERN, query):
        raise malformed(_("'q' must be one line of text of at most 200 characters."), [
            error("parameter", _("'q' must be one line of text of at most 200 characters."),
                  parameter="q")])
    page, per_page = _number("page", 1, MAX_PAGE), _number("per_page", PER_PAGE, MAX_PER_PAGE)
    with _sessions()() as session:
        found = registers.search(session, definition, register.id, query, per_page,
                                 (page - 1) * per_page)
    return json_response({"entries": [_entry(register, e) for e in found.entries],
                          "total": found.total, "page": page, "per_page": per_page})


@bp.get("/registers/<register_id>/entries/<path:key>")
def read_entry(register_id: str, key: str) -> Any:
    """One entry with its values and the row version to change it with."""
    bearer = _bearer()
    definition = i18n.definition()
    register = _register(definition, register_id, bearer.user.actor.roles)
    with _sessions()() as session:
        try:
            found = registers.get(session, definition, register.id, key)
        except registers.EntryNotFound:
            raise not_found(_("The register has no entry '%(key)s'.", key=key)) from None
    return json_response(_entry(register, found))


@bp.post("/registers/<register_id>/entries")
def create_entry(register_id: str) -> Any:
    """A new entry; 201 with the entry and its address."""
    bearer = _bearer()
    definition = i18n.definition()
    register = _register(definition, register_id, bearer.user.actor.roles, edit=True)
    body = _body(())
    try:
        with _sessions().begin() as session:
            created = registers.create(session, definition, register.id, body.get("values", {}),
                                       current_app.extensions["qmsflow"].clock(),
                                       By(bearer.user.id, bearer.user.name), _client(bearer))
    except EntryInvalid as invalid:
        raise _refused(invalid) from None
    sent = json_response(_entry(register, created), 201)
    sent.headers["Location"] = url_for("api.read_entry", register_id=register.id,
                                       key=created.key)
    return sent


@bp.post("/registers/<register_id>/entries/<path:key>")
def update_entry(register_id: str, key: str) -> Any:
    """Change the fields ``values`` names, at the ``expected_version`` read."""
    bearer = _bearer()
    definition = i18n.definition()
    register = _register(definition, register_id, bearer.user.actor.roles, edit=True)
    body = _body(("expected_version", "reason"))
    version = inputs.whole(body.get("expected_version"))
    if version is None or not 0 <= version <= INTEGER_MAX:
        raise malformed(_("Send the entry's row_version as 'expected_version', so that a "
                          "change made since you read it is not overwritten."), [
            error("body", _("'expected_version' must be a whole number."),
                  pointer="/expected_version")])
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise malformed(_("'%(key)s' must be text.", key="reason"))
    try:
        with _sessions().begin() as session:
            changed = registers.update(session, definition, register.id, key,
                                       body.get("values", {}), version,
                                       current_app.extensions["qmsflow"].clock(),
                                       By(bearer.user.id, bearer.user.name),
                                       (reason or "").strip()[:1000] or None, _client(bearer))
    except registers.EntryNotFound:
        raise not_found(_("The register has no entry '%(key)s'.", key=key)) from None
    except registers.EntryConflict as conflict:
        raise ApiProblem(409, "conflict", _("The entry changed"), str(conflict)) from None
    except EntryInvalid as invalid:
        raise _refused(invalid) from None
    return json_response(_entry(register, changed))
