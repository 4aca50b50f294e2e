"""Reading an API request: the JSON body of a step, its values' JSON types, the list's query.

The server judges the shape here (400: not JSON, not an object, a key the step does not take,
a value of the wrong JSON type, a bad query parameter) and leaves every rule of the
definitions to the engine (422 or 403, with the engine's reasons), as the web does. The JSON
types come from :func:`.openapi.json_type`, the table the document is generated from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NoReturn

from flask import request
from werkzeug.datastructures import MultiDict

from qmsflow.engine import values as value_ops
from qmsflow.engine.model import DefinitionSet, Field, Process, Step
from qmsflow.engine.persistence import Filters
from qmsflow.engine.problems import did_you_mean

from ..i18n import gettext as _
from . import openapi
from .problems import ApiProblem, error, malformed

QUERY = ("process", "state", "category", "priority", "overdue", "status", "scope", "q",
         "page", "per_page")
#: The list's parameters that are free text (the others are enumerated or counted).
FREE_TEXT = ("state", "category", "priority", "q")


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _number_literal(literal: str) -> None:
    """Refuse a number literal too long for any value a request carries, before the parser
    converts it: a 200,000-digit literal would otherwise cost seconds of int()."""
    if len(literal) > value_ops.MAX_NUMBER_TEXT:
        raise ValueError(f"a number of {len(literal)} characters is too long (at most "
                         f"{value_ops.MAX_NUMBER_TEXT})")


def _integer(literal: str) -> int:
    _number_literal(literal)
    return int(literal)


def _decimal(literal: str) -> Decimal:
    """A JSON number with a point or an exponent, exactly; refused when its exponent is beyond
    any value (1e999999 is cheap to read, but would make later arithmetic slow)."""
    _number_literal(literal)
    number = Decimal(literal)
    if number and abs(number.adjusted()) > MAX_EXPONENT:
        raise ValueError(f"the number {literal} is out of range")
    return number


#: The largest exponent (either way) a JSON number of a request may have.
MAX_EXPONENT = 100


def parse(raw: bytes | str) -> Any:
    """A request's JSON with exact decimals, refusing NaN, Infinity and over-long or
    out-of-range numbers (ValueError) before converting them."""
    return json.loads(raw, parse_float=_decimal, parse_int=_integer,
                      parse_constant=_no_constant)


def check_text(value: Any, pointer: str = "") -> None:
    """Refuse text no database stores: NUL characters (PostgreSQL) and unpaired surrogates
    (not UTF-8), anywhere in a JSON document."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise malformed(_("The text at %(where)s is not valid Unicode.",
                              where=pointer or "/")) from None
        if "\x00" in value:
            raise malformed(_("The text at %(where)s holds a NUL character.",
                              where=pointer or "/"))
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, pointer)
            check_text(item, f"{pointer}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_text(item, f"{pointer}/{index}")


def whole(value: Any) -> int | None:
    """A JSON whole number (``3`` or ``3.0``, as JSON Schema counts them), else None."""
    # Judged by its size first: int() of 1e999999 would take minutes.
    return value_ops.whole_number(value)


def body(step: Step) -> dict[str, Any]:
    """The request body of ``step``: an object with ``values`` (an object, default empty) and
    the keys the step takes, each of the right JSON type; 400 or 415 otherwise.

    ``expected_version`` is required on a case's step: without it the service would skip the
    version check, and a change made since the client read the case would be overwritten.
    A missing password or reason is the engine's to refuse, with its reason.
    """
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise ApiProblem(415, "media-type", _("Send JSON"), _(
            "Send the body as JSON with the header 'Content-Type: application/json'."))
    raw = request.get_data(cache=False)  # over the limit: 413, from the error handler
    try:  # exact decimals; NaN and Infinity are not JSON
        data = parse(raw)
    except (ValueError, RecursionError) as failure:
        raise malformed(_("The body is not valid JSON: %(error)s", error=str(failure)[:200])
                        ) from None
    check_text(data)
    if not isinstance(data, dict):
        raise malformed(_("The body must be a JSON object, e.g. {\"values\": {...}}."))
    keys = openapi.envelope(step)
    errors = []
    for key in data:
        if key != "values" and key not in keys:
            hint = did_you_mean(key, ["values", *keys])
            errors.append(error("unexpected", _("This step takes no '%(key)s'.", key=key)
                                + (f" ({hint})" if hint else ""), pointer=f"/{key}"))
    values = data.get("values")
    if values is not None and not isinstance(values, dict):
        errors.append(error("body", _("'values' must be an object of field ids and values."),
                            pointer="/values"))
    version = whole(data.get("expected_version"))
    if "expected_version" in keys:
        if data.get("expected_version") is None:
            errors.append(error("body", _(
                "Send the case's row_version as 'expected_version', so that a change made "
                "since you read the case is not overwritten."), pointer="/expected_version"))
        elif version is None or version < 0:
            errors.append(error("type", _(
                "'expected_version' must be a whole number from 0 to %(high)s: the case's "
                "row_version as you read it.", high=value_ops.INTEGER_MAX),
                pointer="/expected_version"))
    for key in ("password", "reason"):
        # null too: the document says text, and a client sending null means something else.
        if key in data and not isinstance(data[key], str):
            errors.append(error("type", _("'%(key)s' must be text.", key=key),
                                pointer=f"/{key}"))
    if errors:
        raise malformed(" ".join(e["detail"] for e in errors), errors)
    return {**data, "values": values or {}, "expected_version": version}


def _expected(kind: str) -> str:
    return {"string": _("text (a JSON string)"), "integer": _("a whole number"),
            "number": _("a number, or a decimal number as text"),
            "boolean": _("true or false"), "array": _("a list of choice ids")}[kind]


def _typed(kinds: tuple[str, ...], value: Any) -> tuple[bool, Any]:
    """Whether ``value`` has one of the JSON types ``kinds``, and the value to pass on."""
    if "integer" in kinds:
        number = whole(value)
        if number is None and ((isinstance(value, int) and not isinstance(value, bool)) or (
                isinstance(value, Decimal) and value.is_finite()
                and value == value.to_integral_value())):
            return True, value  # a whole number out of range: the engine says which range
        return number is not None, number
    if "number" in kinds and not isinstance(value, bool) and isinstance(value, int | Decimal):
        return True, value
    if "string" in kinds and isinstance(value, str):
        return True, value
    if "boolean" in kinds and isinstance(value, bool):
        return True, value
    if "array" in kinds and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return True, value
    return False, value


def inputs(process: Process, step: Step, values: Mapping[str, Any]) -> dict[str, Any]:
    """The step's inputs for the engine: JSON types checked (400); files, and values no engine
    check can take, refused (422). The engine judges everything else, with its reasons."""
    offered = {item.field for item in step.inputs}
    wrong, refused, result = [], [], {}
    for name, value in values.items():
        spec = process.fields.get(name) if name in offered else None
        if spec is None or value is None:
            result[name] = value  # the engine names a field the step does not take
            continue
        kinds = openapi.json_type(spec)
        where = {"field": name, "pointer": f"/values/{name}"}
        if not kinds:
            # Never pass a file name on: the engine would record it as an attachment.
            refused.append(error("files", _(
                "%(field)s is a file: the API takes no files. Attach it in the web "
                "application.", field=name), **where))
            continue
        fits, typed = _typed(kinds, value)
        if not fits:
            wrong.append(error("type", _("%(field)s: expected %(expected)s.", field=name,
                                         expected=" / ".join(_expected(k) for k in kinds)),
                               **where))
        elif not _storable(spec, typed, process):
            refused.append(error("invalid", _("%(field)s: the value is out of range.",
                                              field=name), **where))
        else:
            result[name] = typed
    if wrong:
        raise malformed(" ".join(e["detail"] for e in wrong), wrong)
    if refused:
        raise ApiProblem(422, "refused", _("Refused"), " ".join(e["detail"] for e in refused),
                         refused)
    return result


def _storable(spec: Field, value: Any, process: Process) -> bool:
    """Whether the engine can take ``value`` at all. The engine says why a value breaks a
    rule; a number too large to round to cents, or a time too near year 1 or 9999 to convert
    to UTC for the audit trail, would make it fail instead (values.coerce and audit.jsonable
    raise decimal.InvalidOperation and OverflowError there)."""
    try:
        typed = value_ops.coerce(spec, value, process)
        if isinstance(typed, datetime):
            typed.astimezone(UTC)
    except value_ops.ValueProblem:
        return True  # the engine refuses it with its own message
    except (ArithmeticError, ValueError):  # OverflowError is an ArithmeticError
        return False
    return True


def filters(definition: DefinitionSet, args: MultiDict[str, str]
            ) -> tuple[Filters, int, int]:
    """The case list's filters, page and page size from the query string, or 400 naming each
    bad parameter (unknown ones with a did-you-mean)."""
    errors = []

    def bad(name: str, detail: str) -> None:
        errors.append(error("parameter", detail, parameter=name))

    for name in args:
        if name not in QUERY:
            hint = did_you_mean(name, QUERY)
            bad(name, _("Unknown parameter '%(name)s'.", name=name)
                + (f" ({hint})" if hint else ""))
        elif len(args.getlist(name)) > 1:
            bad(name, _("'%(name)s' is given more than once.", name=name))
        elif value_ops.text_problem(args[name], multiline=False):
            # The rule of one-line text, which the document states as a pattern.
            bad(name, _("'%(name)s' holds characters that are not text.", name=name))
    # Free text is trimmed and a blank one is no filter; a parameter the document enumerates
    # or counts is taken as written, so that a blank or padded one is refused as documented.
    given = {name: args[name].strip() for name in FREE_TEXT if args.get(name, "").strip()}
    given |= {name: args[name] for name in QUERY if name not in FREE_TEXT and name in args}
    process = given.get("process")
    if process is not None and process not in definition.processes:
        bad("process", _("No process '%(name)s'; known: %(known)s.", name=process,
                         known=", ".join(definition.processes)))
    choices: dict[str, dict[str, bool | None]] = {
        "overdue": {"true": True, "false": False},  # as the document's boolean is written
        "status": {"open": True, "finished": False, "all": None},
        "scope": {"mine": True, "all": False}}
    chosen: dict[str, bool | None] = {"status": True, "scope": True}
    for name, allowed in choices.items():
        if name in given:
            if given[name] not in allowed:
                bad(name, _("'%(name)s' is one of: %(allowed)s.", name=name,
                            allowed=", ".join(allowed)))
            else:
                chosen[name] = allowed[given[name]]
    counts = {"page": 1, "per_page": openapi.PER_PAGE}
    for name, high in (("page", openapi.MAX_PAGE), ("per_page", openapi.MAX_PER_PAGE)):
        text = given.get(name)
        if text is not None:
            # isascii: str.isdigit also holds for '²', which int() refuses
            if not (text.isascii() and text.isdigit() and len(text) < 10
                    and 1 <= int(text) <= high):
                bad(name, _("'%(name)s' is a whole number from 1 to %(high)s.", name=name,
                            high=high))
            else:
                counts[name] = int(text)
    if len(given.get("q", "")) > openapi.MAX_SEARCH:
        bad("q", _("The search text may have at most %(count)s characters.",
                   count=openapi.MAX_SEARCH))
    if errors:
        raise malformed(" ".join(e["detail"] for e in errors), errors)
    text_fields = tuple(dict.fromkeys(name for p in definition.processes.values()
                                      for name in p.inbox_search))
    return Filters(process=process, state=given.get("state"), category=given.get("category"),
                   priority=given.get("priority"), overdue=chosen.get("overdue"),
                   open=chosen["status"], text=given.get("q"), text_fields=text_fields,
                   mine=bool(chosen["scope"])), counts["page"], counts["per_page"]
