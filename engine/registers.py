"""Compile register documents: records that are not cases, with the fields of a case.

A register (customers, products, installed devices, spare parts, loaners) is declared like a
process: typed fields with the same types, labels and checks (compiled by the same code as a
process's fields, :meth:`.process_compiler.ProcessCompiler.compile_fields`, and checked by
:func:`.field_checks.check_process`), plus a ``key`` field naming each entry, the fields the
search box looks in, the list's columns, and the roles that read and edit it. A field of type
``register`` refers to an entry of another register by its key.

Other parts read registers without changing this module: a step's ``update`` effect
(:mod:`.register_updates`), a ``retention`` block (:mod:`.retention`) and ``kind: schedule``
documents (:mod:`.schedules`) are compiled against the :class:`~.model.Register` made here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from .compiler import CompileContext
from .errors import QmsflowError
from .expressions import EvaluationError, Expression
from .field_checks import check_process
from .model import Field, Organisation, Register, frozen_map
from .problems import Problem, a_field, did_you_mean, joined, phrase
from .process_compiler import ProcessCompiler
from .sources import Document
from .values import ValueProblem, coerce, is_empty

#: Names a register field's ``required`` condition may read besides the register's fields.
ENTRY_ATTRIBUTES = frozenset({"now"})
#: Field types a key may have: one line of text, compared exactly.
KEY_TYPES = frozenset({"text"})
#: Field types the search box can look in.
SEARCHABLE_TYPES = frozenset({"text", "long_text", "email", "phone", "register"})
#: Field types that cannot be a list's column: a list shows one short line per entry.
NOT_A_COLUMN = frozenset({"long_text", "file"})


def compile_register(doc: Document, problems: list[Problem], org: Organisation,
                     register_ids: Collection[str]) -> Register | None:
    """Compile one register document; problems go to ``problems``.

    ``register_ids``: every register of the set, for the fields that refer to one.
    """
    data = doc.data
    ctx = CompileContext(doc, problems, org.locales)
    before = len(problems)
    check_process(doc, problems, org.locales)  # reserved field ids, defaults of the wrong type
    ctx.unique(data["fields"], ["fields"], "field")
    field_ids = [item["id"] for item in data["fields"]]
    compiler = ProcessCompiler(doc, problems, org, (), (), {})
    fields = compiler.compile_fields(set(field_ids) | ENTRY_ATTRIBUTES)
    for index, item in enumerate(data["fields"]):
        fields[item["id"]] = _reference(ctx, item, fields[item["id"]], ["fields", index],
                                        register_ids)
    key = data["key"]
    if ctx.ref(key, field_ids, "field", ["key"]) and fields[key].type not in KEY_TYPES:
        ctx.problem(["key"], "E250", phrase(
            "the key '{key}' is {kind}: a key must be a text field of one line", key=key,
            kind=a_field(fields[key].type)),
            phrase("declare '{key}' with 'type: text'", key=key))
    title = data.get("title")
    ctx.ref(title, field_ids, "field", ["title"])
    for index, name in enumerate(data.get("search", [])):
        if ctx.ref(name, field_ids, "field", ["search", index]) and (
                fields[name].type not in SEARCHABLE_TYPES):
            ctx.problem(["search", index], "E250", phrase(
                "the search box cannot look in '{name}', {kind}", name=name,
                kind=a_field(fields[name].type)),
                phrase("search text, long text, e-mail, phone or register fields"))
    for index, name in enumerate(data.get("columns", [])):
        if ctx.ref(name, field_ids, "field", ["columns", index]) and (
                fields[name].type in NOT_A_COLUMN):
            ctx.problem(["columns", index], "E250", phrase(
                "'{name}' ({kind}) cannot be a column of the list", name=name,
                kind=fields[name].type),
                phrase("show it on the entry's page; list short fields"))
    for group in ("read", "edit"):
        for index, role in enumerate(data[group]):
            ctx.ref(role, org.roles, "role", [group, index])
    label = ctx.labels(data["label"], ["label"])
    entry_label = ctx.labels(data.get("entry_label"), ["entry_label"])
    description = ctx.labels(data.get("description"), ["description"])
    if len(problems) > before:
        return None
    # The key identifies the entry: it is always required, whatever the field says.
    fields[key] = replace(fields[key], required=True)
    search = tuple(dict.fromkeys([key, *data.get("search", [])]))
    columns = tuple(data.get("columns", [key]))
    return Register(
        id=data["id"], label=label, entry_label=entry_label or label, description=description,
        fields=_frozen(fields, field_ids), key=key, title=title, search=search,
        columns=columns if key in columns else (key, *columns), read=tuple(data["read"]),
        edit=tuple(data["edit"]))


def _reference(ctx: CompileContext, item: Mapping[str, Any], spec: Field,
               here: list[str | int], register_ids: Collection[str]) -> Field:
    """A register field names a register; no other field may."""
    target = item.get("register")
    if item["type"] == "register":
        if target is None:
            ctx.problem(here, "E207", phrase(
                "register field '{field}' does not say which register it refers to",
                field=item["id"]), phrase(
                "add 'register: <id>' naming a register of the set; known registers: {known}",
                known=joined(sorted(register_ids)) if register_ids else phrase("none yet")))
            return spec
        ctx.ref(target, register_ids, "register", [*here, "register"])
        return replace(spec, register=target)
    if target is not None:
        ctx.problem([*here, "register"], "E207", phrase(
            "'register' only applies to register fields, not {kind}", kind=item["type"]),
            phrase("write 'type: register' or remove 'register'"))
    return spec


def _frozen(fields: Mapping[str, Field], order: list[str]) -> Mapping[str, Field]:
    return frozen_map({name: fields[name] for name in order if name in fields})


class EntryInvalid(QmsflowError, ValueError):
    """Values that do not fit a register's fields: ``problems`` maps each field id to what is
    wrong with it, in words for the person who typed it."""

    def __init__(self, register: Register, problems: Mapping[str, str]) -> None:
        self.register = register
        self.problems = dict(problems)
        listed = "; ".join(f"{name}: {message}" for name, message in self.problems.items())
        super().__init__(f"{register.id}: {listed}")


def entry_values(register: Register, raw: Mapping[str, Any], now: datetime,
                 start: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The typed values of an entry from what a form, the API or a spreadsheet sent.

    ``start``: the entry's values before the change (an edit sends only what it changes;
    a new entry starts from the fields' defaults). Every field is checked as a case field is
    (type, bounds, pattern, required or required by condition); EntryInvalid lists every field
    that does not fit. Unknown field ids are refused too, so a typo is never silently dropped.
    Whether a referenced entry exists is the store's to check.
    """
    problems: dict[str, str] = {}
    for name in raw:
        if name not in register.fields:
            hint = did_you_mean(name, register.fields)
            problems[name] = f"'{name}' is not a field of this register" + (
                f" ({hint})" if hint else "")
    values: dict[str, Any] = dict(start) if start is not None else {
        name: spec.default for name, spec in register.fields.items() if spec.default is not None}
    for name, spec in register.fields.items():
        if name not in raw:
            continue
        try:
            values[name] = coerce(spec, raw[name])
        except ValueProblem as problem:
            problems[name] = str(problem)
    context = {**values, "now": now}
    for name, spec in register.fields.items():
        if name in problems or not is_empty(values.get(name)):
            continue
        needed = spec.required
        if isinstance(needed, Expression):
            try:
                needed = bool(needed.evaluate(context))
            except EvaluationError:
                needed = True  # a condition that cannot be judged asks for the value
        if needed:
            problems[name] = "this field is required"
    if problems:
        raise EntryInvalid(register, problems)
    return {name: value for name, value in values.items() if not is_empty(value)}
