"""Deadline escalation: the warning and breach actions of clocks, each exactly once."""

from __future__ import annotations

from datetime import datetime

from . import clocks as clock_ops
from .cases import Case
from .effects import Draft, EffectFailed, run_effects
from .events import Event, Outcome, changes
from .frozen import evolve
from .machine import CaseView, check_now
from .model import DefinitionSet, Effect, frozen_map


def escalate(definition: DefinitionSet, case: Case, now: datetime) -> Outcome:
    """Run the warning and breach actions of every clock that reached them, each exactly once.

    The sweeper calls this; a clock already warned or breached is not escalated again. An
    action that cannot be carried out (a ``set`` whose expression fails) is recorded as an
    ``escalation_failed`` event, never silently skipped.
    """
    check_now(now)
    process = definition.process(case.process)
    draft = Draft(dict(case.values), set(case.flags), case.priority_override,
                   case.assignee_role, dict(case.clocks))
    events: list[Event] = []

    def ctx() -> CaseView:
        return CaseView(process, draft.values, case, now=now, flags=draft.flags,
                        clocks=draft.clocks)

    closed = case.state in process.states and process.states[case.state].final
    for cid, state in case.clocks.items():
        standing = clock_ops.view(state, now)
        clock = process.clocks[cid]
        if closed and not clock.runs_after_close:
            continue  # a closed case's other clocks ended with it (older cases: left running)
        todo: list[tuple[str, tuple[Effect, ...]]] = []
        if standing in ("warning", "breached") and not state.warned:
            todo.append(("warning", clock.on_warning))
            state = evolve(state, warned=True)
        if standing == "breached" and not state.breached:
            todo.append(("breach", clock.on_breach))
            state = evolve(state, breached=True)
        if todo:  # a clock with nothing due is left as it stands (most of a case's clocks)
            draft.clocks[cid] = evolve(draft.clocks[cid], warned=state.warned,
                                       breached=state.breached)
        for level, effects in todo:
            events.append(Event(f"clock_{level}", now, None, frozen_map({
                "clock": cid, "due_at": state.due_at})))
            try:
                run_effects(definition, process, case, effects, draft, ctx, now, None,
                             {"clock": cid})
            except EffectFailed as failed:
                events.append(Event("escalation_failed", now, None, frozen_map({
                    "clock": cid, "level": level, "message": str(failed)})))
    if not events:
        return Outcome(case, ())
    priority = process.higher_priority(case.priority, draft.override)
    new_case = evolve(case, values=frozen_map(draft.values), clocks=frozen_map(draft.clocks),
                      flags=frozenset(draft.flags), priority=priority,
                      priority_override=draft.override,
                      assignee_role=draft.assignee_role, updated_at=now,
                      row_version=case.row_version + 1)
    # Clock events are the warning and breach events above; the rest as for any step.
    events += changes(case, new_case, now, None, ("escalation",), clocks=False)
    events += [*draft.opened, *draft.notifications]
    return Outcome(new_case, tuple(events))
