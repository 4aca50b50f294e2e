"""Compile schedule documents: scheduled work that opens cases from register entries.

A schedule (``kind: schedule``) names a register, the process and start step of the cases it
opens, the case's register field that gets the entry's key (so its ``copies`` apply), other case
values as expressions over the entry, the date the due dates count from (an entry's date field,
``anchor``, or a fixed date, ``from``), the spacings of the due dates with their conditions
(``every``: 3 months in warranty, 6 months after) and which entries count (``when``, and
``recent_cases``: a case of a process naming the entry closed recently). When the due dates
fall is computed by :mod:`.occurrences`; opening the cases is the persistence layer's.

Schedules are compiled after processes and registers, which they refer to.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from .compiler import CompileContext
from .model import Interval, Organisation, Process, RecentCases, Register, Schedule, frozen_map
from .problems import Problem, a_field, joined, phrase
from .references import referring
from .sources import Document

#: Names a schedule's expressions may read besides the entry's fields.
SCHEDULE_NAMES = frozenset({"key", "due"})
#: How late an occurrence may still be opened when the schedule does not say.
CATCH_UP_DAYS = 30


def compile_schedule(doc: Document, problems: list[Problem], org: Organisation,
                     processes: Mapping[str, Process],
                     registers: Mapping[str, Register]) -> Schedule | None:
    """Compile one schedule document against the set's processes and registers; problems go to
    ``problems`` (None when there is any)."""
    data = doc.data
    ctx = CompileContext(doc, problems, org.locales)
    before = len(problems)
    label = ctx.labels(data["label"], ["label"])
    description = ctx.labels(data.get("description"), ["description"])
    register = registers.get(data["register"])
    process = processes.get(data["process"])
    ctx.ref(data["register"], registers, "register", ["register"])
    ctx.ref(data["process"], processes, "process", ["process"])
    if register is None or process is None:
        return None  # every other check reads them
    names = set(register.fields) | SCHEDULE_NAMES
    _check_step(ctx, process, data["step"])
    _check_entry_field(ctx, process, register, data["entry_field"])
    values = {}
    for name, source in (data.get("values") or {}).items():
        if not ctx.ref(name, process.fields, "field", ["values", name]):
            continue
        if name == data["entry_field"]:
            ctx.problem(["values", name], "E260", phrase(
                "'{field}' is the entry field: it gets the entry's key", field=name),
                phrase("remove it from 'values'"))
            continue
        expression = ctx.expression(source, ["values", name], names)
        if expression is not None:
            values[name] = expression
    anchor, start = _check_start(ctx, data, register)
    every = _every(ctx, data["every"], names)
    when = ctx.expression(data.get("when"), ["when"], names)
    recent = _recent(ctx, data.get("recent_cases"), processes, registers, register)
    if len(problems) > before:
        return None
    return Schedule(
        id=data["id"], label=label, description=description, register=register.id,
        process=process.id, step=data["step"], entry_field=data["entry_field"],
        values=frozen_map(values), anchor=anchor, start=start, every=every, when=when,
        recent=recent, catch_up_days=int(data.get("catch_up_days", CATCH_UP_DAYS)))


def _check_step(ctx: CompileContext, process: Process, step_id: str) -> None:
    """The step must open a case, and the system that takes it cannot sign."""
    if not ctx.ref(step_id, process.starts, "step", ["step"]):
        return
    if process.starts[step_id].signature:
        ctx.problem(["step"], "E260", phrase(
            "start step '{step}' needs a signature: a schedule opens cases without anyone "
            "to sign", step=step_id),
            phrase("open scheduled cases through a start step without 'signature'"))


def _check_entry_field(ctx: CompileContext, process: Process, register: Register,
                       name: str) -> None:
    if not ctx.ref(name, process.fields, "field", ["entry_field"]):
        return
    if process.fields[name].type != "register" or process.fields[name].register != register.id:
        fitting = referring(process, register.id)
        ctx.problem(["entry_field"], "E260", phrase(
            "entry field '{field}' does not refer to register '{register}'", field=name,
            register=register.id),
            phrase("name a register field of process '{process}' with 'register: {register}': "
                   "{known}", process=process.id, register=register.id,
                   known=joined(sorted(fitting)) if fitting else phrase("none yet")))


def _check_start(ctx: CompileContext, data: Mapping[str, Any], register: Register
                 ) -> tuple[str | None, date | None]:
    """Exactly one of ``anchor`` (a date field of the entry) and ``from`` (a fixed date)."""
    anchor = data.get("anchor")
    start = data.get("from")
    if (anchor is None) == (start is None):
        ctx.problem(["anchor"] if anchor is not None else [], "E260", phrase(
            "a schedule counts its due dates from 'anchor' or from 'from', one of them"),
            phrase("'anchor: <date field>' for a date of each entry, 'from: YYYY-MM-DD' for "
                   "the same date for all"))
        return None, None
    if anchor is not None:
        if ctx.ref(anchor, register.fields, "field", ["anchor"]) and (
                register.fields[anchor].type != "date"):
            ctx.problem(["anchor"], "E260", phrase(
                "the anchor '{field}' is {kind}: due dates count from a date field",
                field=anchor, kind=a_field(register.fields[anchor].type)),
                phrase("name a field with 'type: date'"))
        return anchor, None
    try:
        return None, date.fromisoformat(str(start))
    except ValueError:
        ctx.problem(["from"], "E260", phrase("'{value}' is not a date", value=start),
                    phrase("write a date that exists, YYYY-MM-DD"))
        return None, None


def _every(ctx: CompileContext, items: list[Mapping[str, Any]],
           names: set[str]) -> tuple[Interval, ...]:
    every = []
    for index, item in enumerate(items):
        when = ctx.expression(item.get("when"), ["every", index, "when"], names)
        every.append(Interval(int(item["months"]), when))
        if item.get("when") is None and index < len(items) - 1:
            ctx.problem(["every", index + 1], "E260", phrase(
                "this spacing is never used: the one before it has no condition and always "
                "applies"), phrase("give the earlier spacing a 'when', or remove this one"))
    return tuple(every)


def _recent(ctx: CompileContext, data: Mapping[str, Any] | None,
            processes: Mapping[str, Process], registers: Mapping[str, Register],
            register: Register) -> RecentCases | None:
    """The cases that make an entry due: each named field must lead to the schedule's
    register, directly or through one other register's field."""
    if data is None:
        return None
    here: list[str | int] = ["recent_cases"]
    process = processes.get(data["process"])
    if not ctx.ref(data["process"], processes, "process", [*here, "process"]) or not process:
        return None
    field, via = data["field"], data.get("via")
    known = referring(process)
    if not ctx.ref(field, known, "field", [*here, "field"]):
        return None
    target = registers.get(known[field])
    if target is None:
        return None  # the process's own check reports it
    if via is None:
        if target.id != register.id:
            ctx.problem([*here, "field"], "E260", phrase(
                "'{field}' names an entry of '{other}', not of '{register}'", field=field,
                other=target.id, register=register.id),
                phrase("add 'via: <field>', the field of '{other}' that names the '{register}' "
                       "entry", other=target.id, register=register.id))
            return None
    elif ctx.ref(via, target.fields, "field", [*here, "via"]) and (
            target.fields[via].type != "register"
            or target.fields[via].register != register.id):
        ctx.problem([*here, "via"], "E260", phrase(
            "'{via}' of register '{other}' does not refer to register '{register}'", via=via,
            other=target.id, register=register.id),
            phrase("name a field of '{other}' with 'register: {register}'", other=target.id,
                   register=register.id))
        return None
    return RecentCases(process.id, field, via, int(data["closed_within_days"]))
