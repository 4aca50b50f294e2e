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

from .problems import Phrase, Problem, Wordable, joined, json_path, phrase, suggest
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
    "schedule": "schedule.schema.json",
    "scenario": "scenario.schema.json",
}

_TYPE_WORDS = {
    "string": phrase("text"), "integer": phrase("a whole number"), "number": phrase("a number"),
    "boolean": phrase("true or false"), "array": phrase("a list"),
    "object": phrase("a mapping of keys to values"), "null": phrase("nothing"),
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


def _found(value: Any) -> Phrase:
    """What was found, in words: 'the boolean true', 'the number 5', 'a list'..."""
    if isinstance(value, bool):
        return phrase("the boolean {value}", value=str(value).lower())
    if isinstance(value, int | float):
        return phrase("the number {value}", value=value)
    if isinstance(value, str):
        return phrase("the text {value!r}", value=value)
    if isinstance(value, list):
        return phrase("a list")
    if isinstance(value, dict):
        return phrase("a mapping")
    return phrase("nothing (an empty value)") if value is None else Phrase(type(value).__name__)


def _either(words: list[Phrase]) -> Phrase:
    """'text or a list': each alternative translated."""
    if len(words) == 1:
        return words[0]
    return phrase("{first} or {rest}", first=words[0], rest=_either(words[1:]))


def _problems_for(root: YMap, error: ValidationError) -> Iterator[Problem]:
    path = list(error.absolute_path)
    keyword = str(error.validator)
    rule: Any = error.validator_value
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance: Any = error.instance
    note = note_of(root, path)

    def make(code: str, message: Wordable, hint: Wordable | None = None,
             at: list[str | int] | None = None, key: bool = False) -> Problem:
        where = path if at is None else at
        mark = mark_of(root, where, key=key)
        if note:
            message = phrase("{message} ({note})", message=message, note=note)
        return Problem.of(mark.file, mark.line, mark.column, code, json_path(where), message,
                          hint)

    if keyword == "required":
        missing = [name for name in rule if name not in instance]
        for name in missing:
            yield make("S001", phrase("missing required key '{name}'", name=name),
                       _describe(schema, name))
        return
    if keyword == "additionalProperties" and isinstance(instance, dict):
        allowed = set(schema.get("properties", {}))
        for name in instance:
            if name not in allowed:
                hint = suggest(name, allowed) or (
                    phrase("allowed keys: {names}", names=joined(sorted(allowed)))
                    if allowed else None)
                yield make("S002", phrase("unexpected key '{name}'", name=name), hint,
                           [*path, name], key=True)
        return
    if keyword == "type":
        wanted = rule
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        expected = _either([_TYPE_WORDS.get(n) or Phrase(n) for n in names])
        yield make("S003", phrase("expected {expected}, found {found}", expected=expected,
                                  found=_found(instance)))
        return
    if keyword in ("enum", "const"):
        options = rule if keyword == "enum" else [rule]
        shown = ", ".join(str(o) for o in options)
        hint = suggest(str(instance), [str(o) for o in options])
        yield make("S004", phrase("{value!r} is not one of: {shown}", value=instance,
                                  shown=shown), hint)
        return
    if keyword == "pattern":
        if schema.get("pattern", "").startswith("^[a-z][a-z0-9_]"):
            yield make("S005", phrase("{value!r} is not a valid id", value=instance),
                       phrase("use lower-case letters, digits and underscores, starting with "
                              "a letter"))
        else:
            yield make("S005", phrase("{value!r} does not match the expected form {form}",
                                      value=instance, form=error.validator_value),
                       _describe_self(schema))
        return
    if keyword == "propertyNames":
        yield make("S005", f"{error.message}", phrase("keys here must be ids or locale tags"))
        return
    if keyword in ("minItems", "maxItems", "minLength", "maxLength", "minProperties",
                   "maxProperties"):
        yield make("S006", _size_message(keyword, error.validator_value, instance),
                   _describe_self(schema))
        return
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        yield make("S007", phrase("{value!r} is out of range ({keyword} {limit})",
                                  value=instance, keyword=keyword, limit=error.validator_value))
        return
    if keyword == "uniqueItems":
        yield make("S008", phrase("the list has repeated items"), phrase("list each item once"))
        return
    if keyword == "format":
        yield make("S005", phrase("{value!r} is not a valid {form}", value=instance,
                                  form=error.validator_value))
        return
    yield make("S009", error.message)


def _describe(schema: Mapping[str, Any], name: str) -> Phrase | None:
    # The schema's own description stays English: it is the schema's text, not ours.
    prop = schema.get("properties", {}).get(name)
    if isinstance(prop, dict) and isinstance(prop.get("description"), str):
        return phrase("{name}: {description}", name=name, description=prop["description"])
    return None


def _describe_self(schema: Mapping[str, Any]) -> str | None:
    description = schema.get("description")
    return description if isinstance(description, str) else None


def _size_message(keyword: str, limit: Any, instance: Any) -> Phrase:
    if keyword == "minItems":
        return phrase("the list needs at least {limit} item(s)", limit=limit)
    if keyword == "maxItems":
        return phrase("the list may have at most {limit} item(s)", limit=limit)
    if keyword == "minLength":
        return phrase("the text needs at least {limit} character(s)", limit=limit)
    if keyword == "maxLength":
        return phrase("the text may have at most {limit} character(s)", limit=limit)
    if keyword == "minProperties":
        return (phrase("needs at least {limit} entry", limit=limit) if limit == 1 else
                phrase("needs at least {limit} entries", limit=limit))
    most = (phrase("may have at most {limit} entry", limit=limit) if limit == 1 else
            phrase("may have at most {limit} entries", limit=limit))
    if isinstance(instance, dict):
        return phrase("{most}, found {count}: {names}", most=most, count=len(instance),
                      names=joined(instance))
    return most
