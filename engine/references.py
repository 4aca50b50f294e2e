"""Case fields that refer to a register entry, and what the case copies from it.

A process field of type ``register`` holds the key of an entry of another register (an
installed device by its serial). Its ``copies`` say what the case takes from the entry when
the reference is given: case field -> an expression over the entry's fields and ``today``
(the case's local date), e.g. ``{product_model: product, under_warranty: "warranty_end >=
today"}``. A bare field id copies that field. A register field of the entry read through a
dot reads the entry it refers to, one register further: ``{customer_org: customer.hospital}``
copies the hospital of the customer the device belongs to (read bare, ``customer`` is that
customer's key). The copy is made once, when the step sets the reference, so the case keeps
the values it had then however the registers change later; the key stays in the case as the
link.

The engine never reads the database: the caller looks each given key up and passes the
entry's values in, with the entries its copies read through (see :class:`Referred` and
:func:`take`), as it passes whether linked cases are finished.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from jinja2 import nodes

from .compiler import CompileContext
from .expressions import EvaluationError, syntax_tree
from .model import Field, Organisation, Process, Register, frozen_map
from .problems import Problem, joined, phrase, suggest
from .sources import Document
from .values import is_empty

#: Names a copy expression may read besides the entry's fields.
COPY_NAMES = frozenset({"today"})
#: Entry field types a case field of each type can take as a bare copy.
_TAKES: Mapping[str, frozenset[str]] = {
    "text": frozenset({"text", "register", "phone", "email"}),
    "long_text": frozenset({"text", "long_text", "register"}),
}
#: Entry field types whose attributes are data a copy may read (``acceptance_date.year``);
#: through any other field but a register field, a dot reads nothing.
_DOTTED = frozenset({"date", "datetime"})


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
        copies, through = _copies(ctx, item.get("copies") or {}, [*here, "copies"], name,
                                  fields, registers[target], registers)
        fields[name] = replace(fields[name], register=target, copies=frozen_map(copies),
                               through=frozen_map(through))
    return replace(process, fields=frozen_map(fields))


def _copies(ctx: CompileContext, raw: Mapping[str, Any], here: list[str | int], own: str,
            fields: Mapping[str, Field], register: Register, registers: Mapping[str, Register]
            ) -> tuple[dict[str, Any], dict[str, frozenset[str]]]:
    copies, through = {}, {}
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
        expression = ctx.expression(source, at, names)
        if expression is None:
            continue
        read = _reads(expression.source)
        crossed = _through(ctx, at, expression.source, read, register, registers)
        if crossed is None:
            continue
        kind, taken = fields[into].type, _taken(str(source), register, registers)
        if taken is not None and taken.type != kind and taken.type not in _TAKES.get(kind, ()):
            ctx.problem(at, "E250", phrase(
                "'{into}' is {kind} and cannot take '{source}', {other}", into=into, kind=kind,
                source=source, other=taken.type),
                phrase("copy into a field of the same type"))
            continue
        copies[into] = expression
        if crossed:
            through[into] = crossed
    return copies, through


def _taken(source: str, register: Register, registers: Mapping[str, Register]
           ) -> Field | None:
    """The entry field a copy takes whole (``product``, ``customer.hospital``), or None for a
    copy that computes its value."""
    first, dot, second = source.strip().partition(".")
    spec = register.fields.get(first)
    if not dot:
        return spec
    further = registers.get(spec.register or "") if spec is not None else None
    if further is None or spec is None or spec.type != "register":
        return None
    return further.fields.get(second)


def _through(ctx: CompileContext, at: list[str | int], source: str,
             read: Mapping[str, tuple[tuple[str, ...], ...]], register: Register,
             registers: Mapping[str, Register]) -> frozenset[str] | None:
    """The entry's register fields the copy ``source`` reads through a dot; None after a
    problem (a dot through a field that leads to no entry, a field the next register lacks,
    a second register deep, one field read both bare and through)."""
    crossed = set()
    fine = True
    for name, paths in read.items():
        spec = register.fields.get(name)
        dotted = [path for path in paths if path]
        if spec is None or not dotted:
            continue  # not an entry field (today, or reported already), or read bare only
        if spec.type == "register" and spec.register not in registers:
            fine = False  # its register is unknown: reported with the register's fields
            continue
        if spec.type != "register":
            if spec.type not in _DOTTED:
                fine = False
                ctx.problem(at, "E207", phrase(
                    "'{source}' reads '{path}', but '{name}' is {kind}, not a register field: "
                    "there is nothing to read through it", source=source,
                    path=".".join((name, *dotted[0])), name=name, kind=spec.type),
                    phrase("only a register field of the entry leads to another entry, as "
                           "in customer.hospital; to copy '{name}' itself, write it bare",
                           name=name))
            continue
        if len(dotted) < len(paths):
            fine = False
            ctx.problem(at, "E207", phrase(
                "'{source}' reads '{name}' both as its key and through it", source=source,
                name=name), phrase(
                "copy the key and what it leads to in two copies: one '{name}', the other "
                "'{name}.<field>'", name=name))
            continue
        further = registers[str(spec.register)]
        for path in dotted:
            second, first = further.fields.get(path[0]), ".".join((name, path[0]))
            if second is None:
                fine = False
                ctx.problem(at, "E201", phrase(
                    "'{source}' reads '{path}', but the register '{register}' has no field "
                    "'{field}'", source=source, path=first,
                    register=further.id, field=path[0]),
                    suggest(path[0], further.fields) or phrase(
                        "its fields: {names}", names=joined(sorted(further.fields))))
            elif len(path) > 1 and second.type not in _DOTTED:
                fine = False
                ctx.problem(at, "E207", phrase(
                    "'{source}' reads '{path}': a copy reads through one register field, "
                    "not further", source=source, path=".".join((name, *path))),
                    phrase("copy '{path}' instead", path=first))
        crossed.add(name)
    return frozenset(crossed) if fine else None


@functools.lru_cache(maxsize=1024)
def _reads(source: str) -> Mapping[str, tuple[tuple[str, ...], ...]]:
    """Each name ``source`` reads, with the attribute paths read right on it (``customer.
    hospital`` and ``customer['hospital']`` give ``('hospital',)``; a bare read ``()``)."""
    tree = syntax_tree(source)
    parents: dict[int, nodes.Node] = {}
    stack: list[nodes.Node] = [tree]
    names: list[nodes.Name] = []
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.Name):
            names.append(node)
        for child in node.iter_child_nodes():
            parents[id(child)] = node
            stack.append(child)
    found: dict[str, list[tuple[str, ...]]] = {}
    for name in names:
        path: list[str] = []
        at: nodes.Node = name
        while (step := _attribute(parents.get(id(at)), at)) is not None:
            path.append(step)
            at = parents[id(at)]
        found.setdefault(name.name, []).append(tuple(path))
    return {name: tuple(paths) for name, paths in found.items()}


def _attribute(parent: nodes.Node | None, child: nodes.Node) -> str | None:
    """The attribute ``parent`` reads on ``child`` (``child.x`` or ``child['x']``), if any."""
    if isinstance(parent, nodes.Getattr) and parent.node is child:
        return str(parent.attr)
    if (isinstance(parent, nodes.Getitem) and parent.node is child
            and isinstance(parent.arg, nodes.Const) and isinstance(parent.arg.value, str)):
        return parent.arg.value
    return None


@dataclass(frozen=True)
class Referred(Mapping[str, Any]):
    """An entry's typed values ``entry`` (read as a mapping), with the entries its own
    register fields refer to, for the copies that read through them: entry field -> that
    entry's values, or None when its register holds no entry of the key (or the field is
    empty)."""

    entry: Mapping[str, Any]
    through: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.entry[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.entry)

    def __len__(self) -> int:
        return len(self.entry)


def through_registers(spec: Field, registers: Mapping[str, Register]) -> dict[str, str]:
    """For a case's register field: the entry's fields its copies read through, each with the
    register it refers to (what the caller reads besides the entry itself)."""
    entry = registers.get(spec.register or "")
    if entry is None:
        return {}
    read = set().union(*spec.through.values()) if spec.through else set()
    return {name: str(entry.fields[name].register) for name in sorted(read)
            if name in entry.fields and entry.fields[name].register}


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
    missing from it is not checked: the caller could not look it up); a :class:`Referred`
    carries the entries its copies read through (a copy through an entry the caller did not
    read is not made). Each copy is raw: the caller coerces it into its field. A copy that
    cannot be computed (an empty date compared, an entry read through that does not exist)
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
        further = entry.through if isinstance(entry, Referred) else {}
        for into, expression in spec.copies.items():
            crossed = spec.through.get(into, frozenset())
            if any(name not in further for name in crossed):
                continue  # the caller did not read the entry it leads to: nothing to copy
            try:
                copied[into] = expression.evaluate(
                    {**context, **{name: further[name] or {} for name in crossed}}
                    if crossed else context)
            except EvaluationError:
                copied[into] = None
    return copied, unknown


def referring(process: Process, register_id: str | None = None) -> dict[str, str]:
    """Field id -> register for the process's register fields (of ``register_id`` only, when
    given)."""
    return {name: spec.register for name, spec in process.fields.items()
            if spec.type == "register" and spec.register
            and (register_id is None or spec.register == register_id)}
