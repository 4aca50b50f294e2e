"""Case fields that refer to a register entry, and what the case copies from it.

A process field of type ``register`` holds the key of an entry of another register (an
installed device by its serial). Its ``copies`` say what the case takes from the entry when
the reference is given: case field -> an expression over the entry's fields and ``today``
(the case's local date), e.g. ``{product_model: product, under_warranty: "warranty_end >=
today"}``. A bare field id copies that field. The copy is made once, when the step sets the
reference, so the case keeps the values it had then however the register changes later; the
key stays in the case as the link.

The engine never reads the database: the caller looks each given key up and passes the
entry's values in (see :func:`take`), as it passes whether linked cases are finished.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from .compiler import CompileContext
from .expressions import EvaluationError
from .model import Field, Organisation, Process, Register, frozen_map
from .problems import Problem, joined, phrase
from .sources import Document
from .values import is_empty

#: Names a copy expression may read besides the entry's fields.
COPY_NAMES = frozenset({"today"})
#: Entry field types a case field of each type can take as a bare copy.
_TAKES: Mapping[str, frozenset[str]] = {
    "text": frozenset({"text", "register", "phone", "email"}),
    "long_text": frozenset({"text", "long_text", "register"}),
}


def link_process(doc: Document, process: Process, problems: list[Problem], org: Organisation,
                 registers: Mapping[str, Register]) -> Process:
    """``process`` with its register fields naming their register and copies; problems go to
    ``problems`` located in ``doc`` (an unknown register, entry field or case field, a copy
    into the reference itself or into a field of another type, ``copies`` on another type)."""
    ctx = CompileContext(doc, problems, org.locales)
    fields = dict(process.fields)
    for index, item in enumerate(doc.data.get("fields", [])):
        name = item.get("id")
        if name not in fields:
            continue
        here: list[str | int] = ["fields", index]
        target = item.get("register")
        if item.get("type") != "register":
            for key in ("register", "copies"):
                if key in item:
                    ctx.problem([*here, key], "E207", phrase(
                        "'{key}' only applies to register fields, not {kind}", key=key,
                        kind=item.get("type")), phrase("write 'type: register' or remove it"))
            continue
        if target is None:
            ctx.problem(here, "E207", phrase(
                "register field '{field}' does not say which register it refers to",
                field=name), phrase(
                "add 'register: <id>' naming a register of the set; known registers: {known}",
                known=joined(sorted(registers)) if registers else phrase("none yet")))
            continue
        if not ctx.ref(target, registers, "register", [*here, "register"]):
            continue
        copies = _copies(ctx, item.get("copies") or {}, [*here, "copies"], name, fields,
                         registers[target])
        fields[name] = replace(fields[name], register=target, copies=frozen_map(copies))
    return replace(process, fields=frozen_map(fields))


def _copies(ctx: CompileContext, raw: Mapping[str, Any], here: list[str | int], own: str,
            fields: Mapping[str, Field], register: Register) -> dict[str, Any]:
    copies = {}
    names = set(register.fields) | COPY_NAMES
    for into, source in raw.items():
        at = [*here, into]
        if not ctx.ref(into, fields, "field", at):
            continue
        if into == own:
            ctx.problem(at, "E207", phrase(
                "'{field}' cannot copy into itself: it keeps the entry's key", field=own),
                phrase("copy into another field of the case"))
            continue
        kind, taken = fields[into].type, register.fields.get(str(source))
        if taken is not None and taken.type != kind and taken.type not in _TAKES.get(kind, ()):
            ctx.problem(at, "E250", phrase(
                "'{into}' is {kind} and cannot take '{source}', {other}", into=into, kind=kind,
                source=source, other=taken.type),
                phrase("copy into a field of the same type"))
            continue
        expression = ctx.expression(source, at, names)
        if expression is not None:
            copies[into] = expression
    return copies


@dataclass(frozen=True)
class Unknown:
    """A reference to no entry: the field, its register and the key given."""

    field: str
    register: str
    key: str


def take(process: Process, given: Collection[str], values: Mapping[str, Any],
         entries: Mapping[str, Mapping[str, Any] | None], today: date
         ) -> tuple[dict[str, Any], list[Unknown]]:
    """What the case copies from the entries its register fields ``given`` in this step refer
    to, and the references to no entry.

    ``values``: the case's values with the step's inputs. ``entries``: register field id ->
    the entry's typed values, None when its register holds no entry of that key (a field
    missing from it is not checked: the caller could not look it up). Each copy is raw: the
    caller coerces it into its field. A copy that cannot be computed (an empty date compared)
    leaves its field empty, so the case never keeps a value from another entry.
    """
    copied: dict[str, Any] = {}
    unknown = []
    for name in given:
        spec = process.fields.get(name)
        key = values.get(name)
        if spec is None or spec.type != "register" or spec.register is None or is_empty(key):
            continue
        if name not in entries:
            continue
        entry = entries[name]
        if entry is None:
            unknown.append(Unknown(name, spec.register, str(key)))
            continue
        context = {**entry, "today": today}
        for into, expression in spec.copies.items():
            try:
                copied[into] = expression.evaluate(context)
            except EvaluationError:
                copied[into] = None
    return copied, unknown


def referring(process: Process, register_id: str | None = None) -> dict[str, str]:
    """Field id -> register for the process's register fields (of ``register_id`` only, when
    given)."""
    return {name: spec.register for name, spec in process.fields.items()
            if spec.type == "register" and spec.register
            and (register_id is None or spec.register == register_id)}
