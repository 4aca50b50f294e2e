"""Effects: what a step, a warning or a breach does to a case, in one code path.

Effects are gathered on a :class:`Draft` (values, flags, clocks, assignee, priority override,
notifications and cases to open) before the new case is built, so a failing effect leaves the
case untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import clocks as clock_ops
from . import register_updates
from .cases import Case, ClockState
from .errors import QmsflowError
from .events import Event
from .expressions import EvaluationError
from .model import DefinitionSet, Effect, Process, Survey, frozen_map
from .values import ValueProblem, coerce, is_empty


@dataclass
class Draft:
    """What a step or an escalation is about to change, gathered before the new case is built."""

    values: dict[str, Any]
    flags: set[str]
    override: str | None
    assignee_role: str | None
    clocks: dict[str, ClockState]
    opened: list[Event] = field(default_factory=list)
    notifications: list[Event] = field(default_factory=list)
    #: The fields a ``set`` effect wrote: with a step's inputs, the only values a step can
    #: change (the audit events compare those, not every field of the case).
    written: set[str] = field(default_factory=set)
    #: The register entries the step's ``update`` effects name, by case field (their values,
    #: None for a key with no entry), read by the caller; None: none were read (a scenario),
    #: and the updates are not made.
    entries: Mapping[str, Mapping[str, Any] | None] | None = None
    #: The step's inputs as given (a refused update is said under the one it reads).
    inputs: Mapping[str, Any] = field(default_factory=dict)
    #: The entries' values after this step's updates so far, by (register, key).
    changed: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: The ``update_entry`` events, one per update that changes something.
    updates: list[Event] = field(default_factory=list)


class EffectFailed(QmsflowError):
    """An effect that cannot be carried out; ``name`` is the field or part concerned,
    ``code`` and ``facts`` what a screen needs to say it in the reader's language."""

    def __init__(self, name: str, message: str, code: str = "effect",
                 facts: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.code = code
        self.facts = dict(facts or {})


def run_effects(definition: DefinitionSet, process: Process, case: Case,
                 effects: tuple[Effect, ...], draft: Draft, ctx: Callable[[], Mapping[str, Any]],
                 now: datetime, actor_id: str | None, origin: Mapping[str, str]) -> None:
    """Apply effects in order to ``draft``; one code path for steps, warnings and breaches."""
    for effect in effects:
        if effect.condition is not None:
            try:
                if not effect.condition.test(ctx()):
                    continue
            except EvaluationError as error:
                raise EffectFailed("when", str(error)) from error
        if effect.kind == "set":
            for name, expr in effect.expressions.items():
                try:
                    draft.values[name] = coerce(process.fields[name], expr.evaluate(ctx()),
                                                process)
                    draft.written.add(name)
                except (EvaluationError, ValueProblem) as error:
                    raise EffectFailed(name, f"cannot set {name}: {error}") from error
        elif effect.kind == "assign":
            draft.assignee_role = str(effect.spec["role"])
        elif effect.kind in ("priority", "raise_priority", "flag"):
            draft.override = priority_effect(process, effect, case.priority, draft.override,
                                              draft.flags)
        elif effect.kind == "clock":
            _clock_effect(definition, process, effect, draft.clocks, ctx(), now)
        elif effect.kind == "notify":
            draft.notifications.append(Event("notify", now, actor_id, frozen_map({
                "template": effect.spec["template"], "to": tuple(effect.spec["to"]),
                **origin})))
        elif effect.kind == "survey":
            # The customer's invitation is a notification like any other; "survey" tells the
            # outbox to give its template the signed link, which expires at "valid_until".
            survey = process.surveys[str(effect.spec)]
            draft.notifications.append(Event("notify", now, actor_id, frozen_map({
                "template": survey.template, "to": (survey.to,), "survey": survey.id,
                "valid_until": survey_expiry(definition, survey, now), **origin})))
        elif effect.kind == "update":
            _update(definition, process, case, effect, draft, ctx(), now, actor_id, origin)
        elif effect.kind == "open_case":
            pairs = [(n, n) for n in effect.spec.get("copy", ())]
            pairs += list(effect.spec.get("map", {}).items())
            copied = {target: draft.values.get(source) for target, source in pairs
                      if draft.values.get(source) is not None}
            # Constants the new case starts with (a report's jurisdiction and kind), typed as
            # its own fields are.
            opened = definition.process(str(effect.spec["process"]))
            for name, constant in effect.spec.get("values", {}).items():
                try:
                    copied[name] = coerce(opened.fields[name], constant, opened)
                except ValueProblem as problem:
                    raise EffectFailed(name, f"cannot open the linked case with {name} = "
                                             f"{constant!r}: {problem}") from problem
            draft.opened.append(Event("open_case", now, actor_id, frozen_map({
                "process": effect.spec["process"], "relation": effect.spec["relation"],
                "values": frozen_map(copied), "from": case.number})))


def _update(definition: DefinitionSet, process: Process, case: Case, effect: Effect,
            draft: Draft, context: Mapping[str, Any], now: datetime, actor_id: str | None,
            origin: Mapping[str, str]) -> None:
    """Change the entry the effect's field names (see :mod:`.register_updates`)."""
    if draft.entries is None:
        return  # the caller read no entries: references are taken as typed, nothing changes
    name = str(effect.spec["entry"])
    if is_empty(draft.values.get(name)):
        return  # no entry named: nothing to change (a 'when' can say when one is needed)
    register = definition.registers[str(process.fields[name].register)]
    if name not in draft.entries:
        raise EffectFailed(name, f"{name}: the entry it names was not read before the step")
    read = draft.entries[name]
    key = str(read[register.key]) if read is not None else str(draft.values[name])
    before = draft.changed.get((register.id, key), read)
    try:
        after = register_updates.update(process, register, effect, context, before, key,
                                        draft.inputs, now)
    except register_updates.UpdateRefused as refused:
        raise EffectFailed(refused.name, str(refused), refused.code, refused.facts) from refused
    assert before is not None
    draft.changed[(register.id, key)] = after
    made = register_updates.event(register, key, before, after, now, actor_id, case.number,
                                  origin.get("step", ""))
    if made is not None:
        draft.updates.append(made)


def survey_expiry(definition: DefinitionSet, survey: Survey, sent_at: datetime) -> datetime:
    """Until when a survey sent at ``sent_at`` may be answered (its ``valid_for`` on its
    calendar)."""
    return clock_ops.add(definition.calendars[survey.calendar], sent_at, survey.valid_for).at


def priority_effect(process: Process, effect: Effect, current: str, override: str | None,
                    flags: set[str]) -> str | None:
    """Apply a priority, raise_priority or flag effect; returns the new priority override.

    Flags change in place; the override is what escalations set above the rules' priority.
    """
    if effect.kind == "priority":
        return str(effect.spec)
    if effect.kind == "raise_priority":
        ids = [p.id for p in process.priorities]
        rank = process.priority_rank(override or current)
        return ids[max(0, min(rank, len(ids)) - 1)]
    flags.update(effect.spec.get("add", ()))
    flags.difference_update(effect.spec.get("remove", ()))
    return override


def _clock_effect(definition: DefinitionSet, process: Process, effect: Effect,
                  states: dict[str, ClockState], ctx: Mapping[str, Any], now: datetime) -> None:
    for verb in ("start", "stop", "pause", "resume"):
        for cid in effect.spec.get(verb, ()):
            _clock_verb(definition, process, cid, verb, states, ctx, now)


def clock_events(definition: DefinitionSet, process: Process, cid: str, step: str,
                  states: dict[str, ClockState], ctx: Mapping[str, Any], now: datetime) -> None:
    clock = process.clocks[cid]
    for verb, steps in (("stop", clock.stop_on), ("pause", clock.pause_on),
                        ("resume", clock.resume_on), ("start", clock.start_on)):
        if step in steps:
            _clock_verb(definition, process, cid, verb, states, ctx, now)


def _clock_verb(definition: DefinitionSet, process: Process, cid: str, verb: str,
                states: dict[str, ClockState], ctx: Mapping[str, Any], now: datetime) -> None:
    current = states.get(cid)
    if verb == "start":
        if current is None:
            started = clock_ops.start(definition, process.clocks[cid], ctx, now)
            if started is not None:
                states[cid] = started
    elif current is not None:
        if verb == "stop":
            states[cid] = clock_ops.stop(current, now)
        elif verb == "pause":
            states[cid] = clock_ops.pause(current, now)
        else:
            states[cid] = clock_ops.resume(definition, process.id, current, now)
