"""What happens to a case: events for the audit trail, and a step's outcome."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from .cases import Case
from .frozen import quick_init
from .model import frozen_map


@quick_init
@dataclass(frozen=True)
class Event:
    """Something that happened to a case; the persistence layer appends it to the audit trail."""

    kind: str
    at: datetime
    actor: str | None
    data: Mapping[str, Any] = field(default_factory=lambda: frozen_map())


@quick_init
@dataclass(frozen=True)
class Outcome:
    """A step's result: the new case and its events, in order."""

    case: Case
    events: tuple[Event, ...]


def changes(old: Case, new: Case, now: datetime, actor: str | None, rules: tuple[str, ...],
            clocks: bool = True, moved: Mapping[str, Mapping[str, Any]] | None = None,
            written: Collection[str] | None = None) -> list[Event]:
    """The events that describe how ``old`` became ``new``, for the audit trail.

    Old and new value of every changed field, the priority (with the rules that decided it; a
    new case, whose old state is empty, always records its first priority), flags, clocks
    (unless the caller reports them itself) and the queue the case went to. ``moved`` adds
    the facts of a clock whose start or due time moved (see :func:`.clocks.follow`) to its
    event: old due time, old and new start and variant, and the reason.

    ``written``: the only fields whose value can differ, when the caller knows them (a step
    changes its inputs and the fields its effects set, and removes none); every field is
    compared otherwise.
    """
    # Each event's data is a dict made here and nowhere kept: a read-only view of it is
    # enough (frozen_map would copy it first).
    events: list[Event] = []
    old_values, new_values = old.values, new.values
    # The names whose value differs (an absent one counts as None), found without sorting
    # every name of the case: a step changes a few of them.
    if written is not None:
        changed = [name for name in written if old_values.get(name) != new_values.get(name)]
    else:
        changed = [name for name, value in new_values.items() if old_values.get(name) != value]
        changed += [name for name, value in old_values.items()
                    if name not in new_values and value is not None]
    for name in sorted(changed):
        events.append(Event("field_changed", now, actor, MappingProxyType({
            "field": name, "old": old_values.get(name), "new": new_values.get(name)})))
    opened = not old.state
    if new.priority != old.priority or opened:
        events.append(Event("priority_changed", now, actor, MappingProxyType({
            "old": None if opened else old.priority, "new": new.priority, "rules": rules})))
    if new.flags != old.flags:
        events.append(Event("flags_changed", now, actor, MappingProxyType({
            "old": sorted(old.flags), "new": sorted(new.flags)})))
    for cid, state in new.clocks.items() if clocks else ():
        before = old.clocks.get(cid)
        # Most steps leave a clock's state the very object it was: no field-by-field compare.
        if before is not state and before != state:
            kind = (f"clock_{state.status}" if before is None or before.status != state.status
                    else "clock_changed")
            events.append(Event(kind, now, actor, MappingProxyType({
                "clock": cid, "variant": state.variant, "due_at": state.due_at,
                "unofficial_years": state.unofficial_years, **(moved or {}).get(cid, {})})))
    if new.assignee_role != old.assignee_role:
        events.append(Event("assigned", now, actor, MappingProxyType({
            "role": new.assignee_role, "previous": old.assignee_role})))
    return events
