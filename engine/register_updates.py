"""Steps that change a register entry: a loaner handed out, the stock of a part used.

A step's effect ``update`` names a case field of type ``register`` (``entry``) and what to
set on the entry it holds::

    - update:
        entry: part_used
        set: {stock_field: "entry.stock_field - part_quantity"}
        require:
          expr: "entry.status == 'available'"
          message: {zh-CN: ..., en: ...}

Expressions read the case (as any effect does) and ``entry``, the entry's values before the
change. The new values go through the register's own field rules (:func:`.registers.entry_values`):
a stock that would fall below its ``min`` refuses the step, under the case field the failing
expression reads from the step's inputs (the quantity typed), else under ``entry``.

The engine stays pure: the caller reads the entries a step will change beforehand
(:func:`targets` says which) and passes their values in, and writes the updates the outcome
carries (events of kind ``update_entry``) in the step's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from .compiler import CompileContext
from .errors import QmsflowError
from .events import Event
from .expressions import EvaluationError, Expression
from .model import Effect, Organisation, Process, Register, Step, frozen_map, text
from .problems import Problem, phrase
from .registers import EntryInvalid, entry_values
from .sources import Document
from .values import ValueProblem, coerce, is_empty, to_json

#: The kind of the event a step's outcome carries for each entry it changes.
EVENT = "update_entry"


def link_updates(doc: Document, process: Process, problems: list[Problem],
                 org: Organisation, registers: Mapping[str, Register]) -> None:
    """Report the update effects of ``process``'s steps that name no register field, another
    register than their field's, a field their register lacks, or the register's key."""
    ctx = CompileContext(doc, problems, org.locales)
    for group in ("start", "transitions"):
        for index, item in enumerate(doc.data.get(group) or []):
            for number, effect in enumerate(item.get("effects") or []):
                spec = effect.get("update") if isinstance(effect, Mapping) else None
                if isinstance(spec, Mapping):
                    _check(ctx, process, registers, spec,
                           [group, index, "effects", number, "update"])


def _check(ctx: CompileContext, process: Process, registers: Mapping[str, Register],
           spec: Mapping[str, Any], here: list[str | int]) -> None:
    name = spec["entry"]
    field = process.fields.get(name)
    if field is None:
        return  # reported by the process compiler
    if field.type != "register" or field.register not in registers:
        if field.type != "register":
            ctx.problem([*here, "entry"], "E207", phrase(
                "'{field}' is not a register field: an update changes the entry a register "
                "field names", field=name),
                phrase("name a field of type register, or declare '{field}' with "
                       "'type: register'", field=name))
        return
    register = registers[str(field.register)]
    named = spec.get("register")
    if named is not None and ctx.ref(named, registers, "register", [*here, "register"]) and (
            named != register.id):
        ctx.problem([*here, "register"], "E207", phrase(
            "'{field}' refers to the register '{register}', not '{named}'", field=name,
            register=register.id, named=named),
            phrase("write 'register: {register}' or leave 'register' out",
                   register=register.id))
    for key in spec["set"]:
        at = [*here, "set", key]
        if not ctx.ref(key, register.fields, "field", at):
            continue
        if key == register.key:
            ctx.problem(at, "E207", phrase(
                "'{key}' is the key of the register '{register}': it names the entry and "
                "cannot be changed", key=key, register=register.id),
                phrase("set other fields of the entry"))


def updates(step: Step) -> tuple[Effect, ...]:
    """The step's update effects, in order."""
    return tuple(effect for effect in step.effects if effect.kind == "update")


def targets(process: Process, step: Step, values: Mapping[str, Any]) -> dict[str, str]:
    """Case field -> the key of the entry the step's updates change, from ``values`` (the
    case's with the step's inputs): what the caller reads before taking the step. A field
    left empty names no entry (its update is not made)."""
    found = {}
    for effect in updates(step):
        name = str(effect.spec["entry"])
        key = values.get(name)
        if isinstance(key, str) and key.strip():
            found[name] = key.strip()
    return found


class UpdateRefused(QmsflowError):
    """An update the entry refuses: ``name`` is the case field to show it under; ``code``
    (``no_entry`` or ``entry``) and ``facts`` what a screen needs to say it in the reader's
    language (``register``, ``key``, and ``field``, ``value`` and the broken ``rule`` with its
    bounds for a value the register's field refuses, or ``message_<locale>`` for a
    ``require`` with a message)."""

    def __init__(self, name: str, message: str, code: str = "entry", **facts: str) -> None:
        super().__init__(message)
        self.name = name
        self.code = code
        self.facts = facts


def update(process: Process, register: Register, effect: Effect, context: Mapping[str, Any],
           entry: Mapping[str, Any] | None, key: str, inputs: Mapping[str, Any],
           now: datetime) -> dict[str, Any]:
    """The entry's values after ``effect`` (typed, checked by the register's field rules).

    ``context``: what the step's effects read; ``entry``: the entry's values before (None
    when the register holds no entry ``key``); ``inputs``: the step's inputs, for placing a
    refusal under the field typed. UpdateRefused says why the step cannot change it.
    """
    name = str(effect.spec["entry"])
    about = {"register": register.id, "key": key}
    if entry is None:
        raise UpdateRefused(name, f"{name}: '{key}' is not an entry of the register "
                                  f"'{register.id}': register it there first, or check the key",
                            "no_entry", **about)
    seen = _Reading(dict(entry), context)
    require: Expression | None = effect.spec.get("require")
    if require is not None:
        try:
            holds = require.test(seen)
        except EvaluationError as error:
            raise UpdateRefused(name, f"{name}: {error}", **about) from error
        if not holds:
            message: Mapping[str, str] = effect.spec.get("message") or {}
            raise UpdateRefused(name, message.get("en") or (
                f"{name}: '{key}' does not meet '{require.source}'"),
                **about, **{f"message_{k}": v for k, v in message.items()})
    raw: dict[str, Any] = {}
    for field, expression in effect.expressions.items():
        under = _under(expression, name, inputs)
        try:
            raw[field] = expression.evaluate(seen)
        except EvaluationError as error:
            raise UpdateRefused(under, f"cannot set {field} of {register.id} '{key}': {error}",
                                **about, field=field) from error
        try:
            coerce(register.fields[field], raw[field])
        except ValueProblem as problem:
            label = text(register.fields[field].label, "en")
            raise UpdateRefused(under, f"{register.id} '{key}': {label} would be "
                                       f"{raw[field]}: {problem}", **about, field=field,
                                value=str(raw[field]), **problem.facts) from problem
    try:
        return entry_values(register, raw, now, start=entry)
    except EntryInvalid as invalid:
        field, words = next(iter(invalid.problems.items()))
        # entry_values words it for the person typing; a screen needs the rule.
        rule = {"rule": "required"} if words == "this field is required" else {}
        raise UpdateRefused(name, f"{register.id} '{key}': {field}: {words}", **about,
                            field=field, **rule) from invalid


class _Reading(Mapping[str, Any]):
    """What an update's expressions read: the case as the step's effects see it, and
    ``entry``."""

    def __init__(self, entry: Mapping[str, Any], context: Mapping[str, Any]) -> None:
        self.entry = entry
        self.context = context

    def __getitem__(self, name: str) -> Any:
        return self.entry if name == "entry" else self.context[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.entry if name == "entry" else self.context.get(name, default)

    def __iter__(self) -> Iterator[str]:
        yield "entry"
        yield from (name for name in self.context if name != "entry")

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _under(expression: Expression, name: str, inputs: Mapping[str, Any]) -> str:
    """The step's input the expression reads (the quantity typed), else the entry field."""
    return next((read for read in sorted(expression.names) if read in inputs), name)


def event(register: Register, key: str, before: Mapping[str, Any], after: Mapping[str, Any],
          now: datetime, actor_id: str | None, number: str, step: str) -> Event | None:
    """The outcome's event for an entry changed from ``before`` to ``after``: the changed
    fields' new values as stored (JSON), None for emptied ones; None when nothing changes."""
    changed = {name: to_json(spec, after.get(name)) if not is_empty(after.get(name)) else None
               for name, spec in register.fields.items()
               if after.get(name) != before.get(name)}
    if not changed:
        return None
    return Event(EVENT, now, actor_id, frozen_map({
        "register": register.id, "key": key, "values": frozen_map(changed),
        "case": number, "step": step}))
