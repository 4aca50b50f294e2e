"""Load-time checks on field ids and on the values conditions compare fields with.

Two traps a schema cannot see: a field id that something else around the case already uses
(the web form's own controls, the form object's attributes, the names every expression or
template reads), and a condition comparing a field with a constant of another type
(``patient_harm == 'yes'`` on a yes/no field), which is valid Jinja and never true.
Only certain mismatches are reported: a constant compared with ``==``, ``!=``, ``in`` or
``not in`` to a field whose type says it can never hold such a value; a date or number field
ordered (``<``, ``>=`` ...) against a constant of another type (an error when evaluated: the
expression language has no date constants, so a date field is only ever compared with another
date); and a multiple-choice field tested for a choice it does not have (``'x' in symptoms``)
or compared with ``==`` as if it held one value (it holds a list).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from .compiler import NUMERIC_TYPES, CompileContext
from .expressions import syntax_tree
from .problems import Phrase, Problem, joined, phrase, with_article
from .sources import Document

#: Field ids refused in every process, each with the reason. This is the one list: the web
#: surveys and case pages take their posted control names from here.
RESERVED_FIELD_IDS: Mapping[str, Phrase] = {
    # Posted by the case page's step form beside the fields (web/cases): a field of that name
    # would be read as the control (a field 'reason' stored as every audit entry's reason).
    "csrf_token": phrase("the web forms' CSRF token"),
    "submit": phrase("the web forms' submit button"),
    "row_version": phrase("the case version a step form posts (optimistic locking)"),
    "password": phrase("the password of an electronic signature"),
    "reason": phrase("the reason a step form posts for the audit trail"),
    # Attributes of the WTForms / Flask-WTF form object a field would replace (HTTP 500).
    "data": phrase("an attribute of the web form object"),
    "errors": phrase("an attribute of the web form object"),
    "meta": phrase("an attribute of the web form object"),
    "process": phrase("an attribute of the web form object, and a case attribute expressions read"),
    "validate": phrase("an attribute of the web form object"),
    "populate_obj": phrase("an attribute of the web form object"),
    "post_process": phrase("an attribute of the web form object"),
    "hidden_tag": phrase("an attribute of the web form object"),
    "is_submitted": phrase("an attribute of the web form object"),
    "validate_on_submit": phrase("an attribute of the web form object"),
    "form_errors": phrase("an attribute of the web form object"),
    "extra_validators": phrase("an argument of the web form's validate"),
    # What the form builder adds to every step form (forms/build.py StepForm).
    "layout": phrase("an attribute of every step form"),
    "form_spec": phrase("an attribute of every step form"),
    "client_conditions": phrase("an attribute of every step form"),
    "required_fields": phrase("an attribute of every step form"),
    "initial": phrase("an attribute of every step form"),
    "client_values": phrase("an attribute of every step form"),
    # Element ids of the page a step form sits in: a field's input takes its id as element id.
    "main": phrase("the id of the page's main element (the skip link's target)"),
    "problems": phrase("the id of the page's problem list"),
    # Case attributes every expression reads (machine.context): a field would be hidden.
    "number": phrase("a case attribute expressions read"),
    "state": phrase("a case attribute expressions read"),
    "priority": phrase("a case attribute expressions read"),
    "flags": phrase("a case attribute expressions read"),
    "category_path": phrase("a case attribute expressions read"),
    "created_at": phrase("a case attribute expressions read"),
    "now": phrase("a case attribute expressions read"),
    "links": phrase("a case attribute expressions read"),
    "clocks": phrase("a case attribute expressions read"),
    # Names every notification template reads besides the fields (notifications.context).
    "case": phrase("a name notification templates read"),
    "clock": phrase("a name notification templates read"),
    "recipient": phrase("a name notification templates read"),
    "survey_url": phrase("a name notification templates read"),
}

#: Keys whose string value is a condition, wherever they appear in a process.
_CONDITION_KEYS = ("if", "show_if", "when", "required")
_TEXT_TYPES = ("text", "long_text", "email", "phone", "user", "file")
_KIND_WORDS = {"yes_no": phrase("yes/no"), "integer": phrase("number"),
               "decimal": phrase("number"), "money": phrase("amount"),
               "choice": phrase("choice"), "multi_choice": phrase("multiple-choice"),
               "category": phrase("category"), "date": phrase("date"),
               "datetime": phrase("date-and-time")}
_DATES = ("date", "datetime")
#: Types an ordering (<, >, <=, >=) with a constant of another type fails on.
_ORDERED = (*NUMERIC_TYPES, *_DATES)


def check_process(doc: Document, problems: list[Problem], locales: tuple[str, ...]) -> None:
    """Report reserved field ids and conditions that compare a field with the wrong type."""
    ctx = CompileContext(doc, problems, locales)
    fields: dict[str, Mapping[str, Any]] = {}
    for index, item in enumerate(doc.data.get("fields", [])):
        fields[item["id"]] = item
        why = RESERVED_FIELD_IDS.get(item["id"])
        if why is not None:
            ctx.problem(["fields", index, "id"], "E217",
                        phrase("field id '{ident}' is reserved: it is {why}", ident=item["id"],
                               why=why),
                        phrase("rename the field, e.g. '{example}'",
                               example=doc.key + "_" + item["id"]))
        if "default" in item:
            _check_default(ctx, item, ["fields", index, "default"])
    rules = (doc.data.get("priority_rules") or {}).get("rules", [])
    for index, rule in enumerate(rules):
        for name, wanted in (rule.get("when") or {}).items():
            spec = fields.get(name)
            if spec is None or isinstance(wanted, dict):
                continue
            for value in wanted if isinstance(wanted, list) else [wanted]:
                wrong = mismatch(spec, value)
                if wrong:
                    ctx.problem(["priority_rules", "rules", index, "when", name], "E218",
                                phrase("'{name}' is compared with {shown}: {wrong}",
                                       name=name, shown=_shown(value), wrong=wrong),
                                _fix(spec, f"when: {{{name}: ", "}"))
    for path, source in _conditions(doc.data, []):
        try:
            tree = syntax_tree(source)
        except TemplateSyntaxError:
            continue  # reported by the compiler (X301)
        for name, value, how in _comparisons(tree):
            spec = fields.get(name)
            if spec is None or value is None:
                continue  # '== none' is an empty check, right for every type
            kind = spec.get("type")
            if how == "order" and kind not in _ORDERED:
                continue  # text and choices order as text: odd, but it can hold
            if how == "member" and kind != "multi_choice":
                continue  # 'x' in a text field looks for a part of the text
            wrong = mismatch(spec, value)
            fix = _fix(spec, f"{name} == ", "")
            if how == "equal" and kind == "multi_choice" and not wrong:
                wrong = phrase("a multiple-choice field holds a list of choices, so this is "
                               "never true")
                fix = phrase("write {value!r} in {name}", value=value, name=name)
            elif kind == "multi_choice":
                fix = _fix(spec, "", f" in {name}")
            if wrong:
                ctx.problem(path, "X305", phrase("expression {source!r} compares '{name}' with "
                                                 "{shown}: {wrong}", source=source, name=name,
                                                 shown=_shown(value), wrong=wrong), fix)


def _check_default(ctx: CompileContext, spec: Mapping[str, Any], path: list[str | int]) -> None:
    """A default the case could never hold, or one the web form cannot show."""
    value = spec["default"]
    if spec.get("type") == "file":
        # A browser never pre-fills a file input: the default would show nowhere and a form
        # sent without a new upload could not keep it.
        ctx.problem(path, "E220", phrase("file field '{ident}' cannot have a default: the web "
                                         "form cannot pre-fill a file", ident=spec["id"]),
                    phrase("remove the default"))
        return
    values = value if isinstance(value, list) else [value]
    if spec.get("type") in _DATES and isinstance(value, str):
        # A date default is written as ISO text (bare YAML dates stay text): it must read as one.
        if not _iso(spec["type"], value):
            ctx.problem(path, "E218", phrase(
                "the default of {kind} field '{ident}' is {shown}, which is not {what}",
                kind=spec["type"], ident=spec["id"], shown=_shown(value),
                what=phrase("a date") if spec["type"] == "date" else phrase("a date and time")),
                        _fix(spec, "default: ", ""))
        return
    if isinstance(value, list) != (spec.get("type") == "multi_choice"):
        ctx.problem(path, "E218", phrase(
            "the default of {kind} field '{ident}' must be {what}", kind=spec.get("type"),
            ident=spec["id"], what=phrase("a list of choice ids")
            if spec.get("type") == "multi_choice" else phrase("one value, not a list")))
        return
    for item in values:
        found = _mismatch(spec, item)
        if found:
            ctx.problem(path, "E218", phrase("the default of '{ident}' is {shown}: {wrong}",
                                             ident=spec["id"], shown=_shown(item),
                                             wrong=found[0]),
                        _fix(spec, "default: ", ""))


def mismatch(spec: Mapping[str, Any], value: Any) -> Phrase | None:
    """Why a field of ``spec`` can never equal ``value``, or None when it can."""
    found = _mismatch(spec, value)
    if found is None:
        return None
    fact, never = found
    return phrase("{fact}, so this is never true", fact=fact) if never else fact


def _mismatch(spec: Mapping[str, Any], value: Any) -> tuple[Phrase, bool] | None:
    """What the field holds that ``value`` is not, and whether that makes a test never true."""
    kind = spec.get("type")
    word = _KIND_WORDS.get(str(kind)) or Phrase(str(kind))
    article = with_article(str(word)).split(" ")[0]
    if value is None:
        return None
    if kind == "yes_no" and not isinstance(value, bool):
        return phrase("{a} {kind} field holds true or false", a=article, kind=word), True
    if kind in NUMERIC_TYPES and (isinstance(value, bool) or not isinstance(value, int | float)):
        return phrase("{a} {kind} field holds a number", a=article, kind=word), True
    if kind in (*_TEXT_TYPES, "choice", "multi_choice", "category") and not isinstance(
            value, str):
        return phrase("{a} {kind} field holds text", a=article, kind=word), True
    if kind in ("choice", "multi_choice"):
        choices = [c["id"] for c in spec.get("choices", [])]
        if choices and value not in choices:
            return phrase("{value!r} is not one of its choices: {choices}", value=value,
                          choices=joined(choices)), False
    if kind in _DATES:
        # Expressions have no date constants and a decision table matches a date only with a
        # date: text, a number or yes/no never equals one (and ordering against it fails).
        return phrase("{a} {kind} field holds a date", a=article, kind=word), True
    return None


def _iso(kind: str, text: str) -> bool:
    """Whether ``text`` reads as a value of a ``kind`` (date or datetime) field."""
    try:
        if kind == "date":
            date.fromisoformat(text)
        else:
            moment = datetime.fromisoformat(text)
            return moment.utcoffset() is not None
    except ValueError:
        return False
    return True


def _fix(spec: Mapping[str, Any], before: str, after: str) -> Phrase:
    kind = spec.get("type")
    if kind == "yes_no":
        return phrase("write {true} or {false}", true=before + "true" + after,
                      false=before + "false" + after)
    if kind in NUMERIC_TYPES:
        return phrase("write the number without quotes, e.g. {example}",
                      example=before + "10" + after)
    if kind in ("choice", "multi_choice"):
        ids = [c["id"] for c in spec.get("choices", [])]
        return phrase("write a choice id, e.g. {example}",
                      example=before + repr(ids[0] if ids else "id") + after)
    if kind == "date":
        if before == "default: ":
            return phrase("write the date as YYYY-MM-DD, e.g. default: '2026-01-31'")
        return phrase("compare it with another date field")
    if kind == "datetime":
        if before == "default: ":
            return phrase("write the date and time with its offset, e.g. "
                          "'2026-01-31T09:00:00+08:00'")
        return phrase("compare it with another date-and-time field, created_at or now")
    return phrase("write the value as quoted text, e.g. {example}",
                  example=before + "'...'" + after)


def _shown(value: Any) -> Phrase:
    if isinstance(value, bool):
        return Phrase("true" if value else "false")
    if isinstance(value, str):
        return phrase("the text {value!r}", value=value)
    return phrase("the number {value}", value=value)


def _conditions(data: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    """Every condition source in a process document, with its path."""
    if isinstance(data, list):
        for index, item in enumerate(data):
            yield from _conditions(item, [*path, index])
        return
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        if key in _CONDITION_KEYS and isinstance(value, str):
            yield [*path, key], value
        elif key in _CONDITION_KEYS and isinstance(value, dict) and isinstance(
                value.get("expr"), str):
            yield [*path, key, "expr"], value["expr"]
        elif key != "when" or not isinstance(value, dict):
            yield from _conditions(value, [*path, key])


def _constants(node: nodes.Node) -> list[Any] | None:
    """The constant values of a constant or a list/tuple of constants, else None."""
    if isinstance(node, nodes.Const):
        return [node.value]
    if isinstance(node, nodes.List | nodes.Tuple) and all(
            isinstance(item, nodes.Const) for item in node.items):
        return [item.value for item in node.items]  # type: ignore[attr-defined]
    return None


def _comparisons(tree: nodes.Node) -> Iterator[tuple[str, Any, str]]:
    """(field name, constant, how) for each comparison of a name with a constant: "equal"
    for ``name == c``, ``!=``, ``name in [...]``; "order" for ``<``, ``<=``, ``>``, ``>=``;
    "member" for ``c in name``."""
    found = [tree] if isinstance(tree, nodes.Compare) else []
    for compare in [*found, *tree.find_all(nodes.Compare)]:
        left = compare.expr
        for operand in compare.ops:
            right = operand.expr
            if operand.op in ("eq", "ne", "lt", "lteq", "gt", "gteq"):
                how = "equal" if operand.op in ("eq", "ne") else "order"
                for name_side, other in ((left, right), (right, left)):
                    if isinstance(name_side, nodes.Name) and isinstance(other, nodes.Const):
                        yield name_side.name, other.value, how
            elif operand.op in ("in", "notin") and isinstance(left, nodes.Name) and isinstance(
                    right, nodes.List | nodes.Tuple):
                for value in _constants(right) or []:
                    yield left.name, value, "equal"
            elif operand.op in ("in", "notin") and isinstance(left, nodes.Const):
                name = _field_of(right)
                if name is not None:
                    yield name, left.value, "member"
            left = right


def _field_of(node: nodes.Node) -> str | None:
    """The field a list operand reads: ``symptoms``, ``(symptoms or [])`` or
    ``symptoms | default([])`` (the idioms for an empty multiple choice)."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Or) and isinstance(node.left, nodes.Name) and isinstance(
            node.right, nodes.List | nodes.Const):
        return node.left.name
    if isinstance(node, nodes.Filter) and node.name == "default" and isinstance(
            node.node, nodes.Name):
        return node.node.name
    return None
