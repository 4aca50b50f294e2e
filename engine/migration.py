"""Moving a running case to another definition version, or saying exactly why it cannot move.

A case fits the new version when its process, its state (after an optional state map), its
priority, every field value (re-typed against the new field) and every running clock still
exist there. Clocks are recomputed: the same start, the new version's variant, duration and
calendar, so a changed deadline or holiday moves the due time. Pure: no IO, ``now`` is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from . import clocks as clock_ops
from .cases import Case, ClockState
from .machine import context
from .model import DefinitionSet, frozen_map
from .problems import did_you_mean
from .values import ValueProblem, coerce, to_json


@dataclass(frozen=True)
class ClockMove:
    """A due time that the new version moves."""

    clock: str
    old_due: datetime
    new_due: datetime

    @property
    def shift(self) -> timedelta:
        return self.new_due - self.old_due


@dataclass(frozen=True)
class Plan:
    """What migrating one case would do: the new case, or the reasons it does not fit."""

    number: str
    case: Case | None
    reasons: tuple[str, ...] = ()
    moves: tuple[ClockMove, ...] = ()
    state_from: str | None = None
    #: Each reason as (code, id) for a screen to word in its reader's language: code is one
    #: of "process", "state", "priority", "field", "value", "clock", "variant"; the id names
    #: the process, state, priority, field or clock.
    why: tuple[tuple[str, str], ...] = ()
    #: The case as it stands on its version now.
    before: Case | None = None


def plan(old: DefinitionSet, new: DefinitionSet, case: Case, now: datetime,
         state_map: Mapping[str, str] | None = None) -> Plan:
    """The case as it would run on ``new``, or why it cannot."""
    reasons: list[str] = []
    why: list[tuple[str, str]] = []
    if case.process not in new.processes:
        return Plan(case.number, None, (f"process '{case.process}' does not exist in the new "
                                        "version",), why=(("process", case.process),), before=case)
    process = new.process(case.process)
    before = old.process(case.process)
    state = (state_map or {}).get(case.state, case.state)
    if state not in process.states:
        hint = did_you_mean(state, process.states)
        reasons.append(f"state '{state}' does not exist in the new version: map it with "
                       f"--map {case.state}=<new state>" + (f" ({hint})" if hint else ""))
        why.append(("state", case.state))
    if case.priority not in {p.id for p in process.priorities}:
        reasons.append(f"priority '{case.priority}' does not exist in the new version")
        why.append(("priority", case.priority))
    values = {}
    for name, value in case.values.items():
        spec = process.fields.get(name)
        if spec is None:
            if value is not None:
                reasons.append(f"field '{name}' holds a value but does not exist in the new "
                               "version")
                why.append(("field", name))
            continue
        try:
            values[name] = coerce(spec, to_json(before.fields[name], value), process)
        except ValueProblem as problem:
            reasons.append(f"field '{name}': {problem} in the new version")
            why.append(("value", name))
    clocks: dict[str, ClockState] = {}
    moves = []
    ctx = context(process, values, case, now=now, state=state)
    for cid, clock in case.clocks.items():
        if cid not in process.clocks:
            if clock.status != "stopped":
                reasons.append(f"clock '{cid}' is {clock.status} but does not exist in the new "
                               "version")
                why.append(("clock", cid))
            clocks[cid] = clock
            continue
        moved = clock_ops.recompute(new, process.id, clock, ctx)
        if moved is None:
            reasons.append(f"no variant of clock '{cid}' applies to this case in the new "
                           "version")
            why.append(("variant", cid))
            continue
        clocks[cid] = moved
        if moved.due_at != clock.due_at:
            moves.append(ClockMove(cid, clock.due_at, moved.due_at))
    if reasons:
        return Plan(case.number, None, tuple(reasons), why=tuple(why), before=case)
    owner = process.states[state].owner
    role = case.assignee_role if case.assignee_role in new.organisation.roles else owner
    migrated = replace(case, version=new.version, state=state, values=frozen_map(values),
                       clocks=frozen_map(clocks), assignee_role=role,
                       row_version=case.row_version + 1, updated_at=now)
    return Plan(case.number, migrated, (), tuple(moves),
                case.state if state != case.state else None, before=case)
