"""Validate definition documents against the bundled JSON Schemas, reporting every error.

jsonschema knows nothing of lines; each error's path is looked up in the document's marks
(falling back to the parent for a missing key, pointing an unexpected key at the key itself) and
turned into a :class:`~.problems.Problem` with a message a quality administrator can act on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any, cast

import jsonschema
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from .problems import Problem, did_you_mean, json_path
from .yamlsource import YMap, mark_of, note_of

SCHEMA_PACKAGE = "qmsflow.schema"
SCHEMA_FILES = {
    "common": "common.schema.json",
    "definition-set": "definition-set.schema.json",
    "organisation": "organisation.schema.json",
    "calendar": "calendar.schema.json",
    "process": "process.schema.json",
    "notifications": "notifications.schema.json",
    "reports": "reports.schema.json",
    "report-form": "report-form.schema.json",
    "register": "register.schema.json",
    "scenario": "scenario.schema.json",
}

_TYPE_WORDS = {
    "string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
    "array": "a list", "object": "a mapping of keys to values", "null": "nothing",
}


def schema_texts() -> dict[str, str]:
    """File name to JSON text of every bundled schema (for ``qmsflow schema export``)."""
    folder = resources.files(SCHEMA_PACKAGE)
    return {name: folder.joinpath(name).read_text(encoding="utf-8")
            for name in SCHEMA_FILES.values()}


@cache
def _validators() -> Mapping[str, jsonschema.Draft202012Validator]:
    schemas = {name: json.loads(text) for name, text in schema_texts().items()}
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas.values())
    return {kind: jsonschema.Draft202012Validator(schemas[file], registry=registry)
            for kind, file in SCHEMA_FILES.items() if kind != "common"}


def validate(kind: str, data: YMap) -> list[Problem]:
    """Every schema problem of one document of ``kind``."""
    validator = _validators()[kind]
    problems: list[Problem] = []
    for error in validator.iter_errors(data):
        problems.extend(_problems_for(data, _leaf(error)))
    return problems


def _leaf(error: ValidationError) -> ValidationError:
    # oneOf/anyOf report "not valid under any schema"; the alternative meant for this kind of
    # value (a mapping, a list...) says more. Alternatives that failed only on the value's type
    # were meant for other kinds of value, so they are set aside first.
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return error
    by_branch: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        by_branch.setdefault(sub.schema_path[0] if sub.schema_path else None, []).append(sub)
    meant = [errs for errs in by_branch.values()
             if not any(e.validator == "type" and not e.relative_path for e in errs)]
    candidates = [e for errs in meant for e in errs] or list(error.context)
    best = best_match(candidates)
    if best is None:
        return error
    return _leaf(cast(ValidationError, best))


def _found(value: Any) -> str:
    """What was found, in words: 'the boolean true', 'the number 5', 'a list'..."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing (an empty value)" if value is None else type(value).__name__


def _problems_for(root: YMap, error: ValidationError) -> Iterator[Problem]:
    path = list(error.absolute_path)
    keyword = str(error.validator)
    rule: Any = error.validator_value
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance: Any = error.instance
    note = note_of(root, path)

    def make(code: str, message: str, hint: str | None = None,
             at: list[str | int] | None = None, key: bool = False) -> Problem:
        where = path if at is None else at
        mark = mark_of(root, where, key=key)
        if note:
            message = f"{message} ({note})"
        return Problem(mark.file, mark.line, mark.column, code, json_path(where), message, hint)

    if keyword == "required":
        missing = [name for name in rule if name not in instance]
        for name in missing:
            yield make("S001", f"missing required key '{name}'",
                       _describe(schema, name))
        return
    if keyword == "additionalProperties" and isinstance(instance, dict):
        allowed = set(schema.get("properties", {}))
        for name in instance:
            if name not in allowed:
                hint = did_you_mean(name, allowed) or (
                    "allowed keys: " + ", ".join(sorted(allowed)) if allowed else None)
                yield make("S002", f"unexpected key '{name}'", hint, [*path, name], key=True)
        return
    if keyword == "type":
        wanted = rule
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        expected = " or ".join(_TYPE_WORDS.get(n, n) for n in names)
        yield make("S003", f"expected {expected}, found {_found(instance)}")
        return
    if keyword in ("enum", "const"):
        options = rule if keyword == "enum" else [rule]
        shown = ", ".join(str(o) for o in options)
        hint = did_you_mean(str(instance), [str(o) for o in options])
        yield make("S004", f"{instance!r} is not one of: {shown}", hint)
        return
    if keyword == "pattern":
        if schema.get("pattern", "").startswith("^[a-z][a-z0-9_]"):
            yield make("S005", f"{instance!r} is not a valid id",
                       "use lower-case letters, digits and underscores, starting with a letter")
        else:
            yield make("S005", f"{instance!r} does not match the expected form "
                       f"{error.validator_value}", _describe_self(schema))
        return
    if keyword == "propertyNames":
        yield make("S005", f"{error.message}", "keys here must be ids or locale tags")
        return
    if keyword in ("minItems", "maxItems", "minLength", "maxLength", "minProperties",
                   "maxProperties"):
        yield make("S006", _size_message(keyword, error.validator_value, instance),
                   _describe_self(schema))
        return
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        yield make("S007", f"{instance!r} is out of range ({keyword} {error.validator_value})")
        return
    if keyword == "uniqueItems":
        yield make("S008", "the list has repeated items", "list each item once")
        return
    if keyword == "format":
        yield make("S005", f"{instance!r} is not a valid {error.validator_value}")
        return
    yield make("S009", error.message)


def _describe(schema: Mapping[str, Any], name: str) -> str | None:
    prop = schema.get("properties", {}).get(name)
    if isinstance(prop, dict) and isinstance(prop.get("description"), str):
        return f"{name}: {prop['description']}"
    return None


def _describe_self(schema: Mapping[str, Any]) -> str | None:
    description = schema.get("description")
    return description if isinstance(description, str) else None


def _size_message(keyword: str, limit: Any, instance: Any) -> str:
    return {
        "minItems": f"the list needs at least {limit} item(s)",
        "maxItems": f"the list may have at most {limit} item(s)",
        "minLength": f"the text needs at least {limit} character(s)",
        "maxLength": f"the text may have at most {limit} character(s)",
        "minProperties": f"needs at least {limit} entr{'y' if limit == 1 else 'ies'}",
        "maxProperties": f"may have at most {limit} entr{'y' if limit == 1 else 'ies'}"
                         + (f", found {len(instance)}: " + ", ".join(instance)
                            if isinstance(instance, dict) else ""),
    }[keyword]
