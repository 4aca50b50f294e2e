"""Benchmark: the engine in memory, step by step through two complaint flows, each against a
minimal state machine taking the same steps.

Two flows, both run through the same engine code path (``machine.start`` and ``machine.apply``;
nothing is switched off for either):

- **lean** (the issue's "SpiffWorkflow-equivalent complaint flow"): ``bench/flows/spiff_complaint``
  and its scenario ``bench/flows/spiff_complaint_closed.yaml``. It holds what a SpiffWorkflow /
  BPMN complaint example models, and nothing more: an intake user task by a role with four typed
  fields (text, choice, long text, yes/no), an exclusive gateway on a condition (a safety issue is
  investigated first, any other complaint goes straight to review: two conditional transitions,
  exactly one of which holds), investigation, review and approval user tasks each by its role
  (the approval with its own gateway back to review), one deadline clock (5 working days on an
  office calendar with working hours) and the close that stops it. 6 steps. Such an example
  carries no priority table, no approval-authority tiers, no signatures, no linked cases and no
  national holiday calendar, so neither does this flow; the engine still checks roles, states,
  conditions, required and typed inputs, computes the clock's working-time due and warning
  times, decides the priority (no rules: the default), writes every audit event.
- **full**: the bundled domestic complaint ``scenarios/complaint_domestic_closed.yaml`` (intake
  to closure on ``definitions/default``: ~100 fields, signatures, priority and authority rules,
  several clocks on China's holiday calendar, effects). 12 steps.

Each flow's engine calls are recorded once through the scenario runner, then replayed: the same
definitions, actors, inputs and times, each step on the case the step before returned; no
database, no IO.

The baseline, measured in the same run for each flow, is the least a workflow interpreter does
per step: look the transition up in a table, check the actor's role and the required inputs, and
make the new case (state, values merged, the step appended).

Times are CPU time of this process (``time.process_time``), the best of 30 timings of 50 whole
flows each: the machine is shared, and wall-clock time there counts the time other processes
held the CPU (it varied by 2x from run to run). CPU time stretches too when the host is busy
(caches, frequency), in bursts: many short timings give the best one a chance to fall between
them (five timings of 300 flows moved by up to 70% from run to run on a busy host, where the
best of 30 short ones moved by about 10%).

The last line: microseconds per engine step on the lean flow against the issue's target
(<= 25 us), with its ratio to the baseline.

That a speed change leaves every result as it was is checked by ``bench/engine_record.py``.

Run: .venv/bin/python bench/engine_bench.py [--rounds 50] [--timings 30]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qmsflow.engine import machine, scenario
from qmsflow.engine.cases import Case
from qmsflow.engine.model import DefinitionSet

ROOT = Path(__file__).resolve().parents[1]
LEAN = ROOT / "bench" / "flows" / "spiff_complaint_closed.yaml"
FULL = ROOT / "scenarios" / "complaint_domestic_closed.yaml"
TARGET_US = 25.0


@dataclass(frozen=True)
class Call:
    """One engine call as the scenario made it: start (no case) or apply."""

    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]


def record(flow: Path) -> tuple[DefinitionSet, Call, list[Call]]:
    """The scenario's start and its applies on the main case, in order."""
    calls: list[tuple[str, Call]] = []
    original_start, original_apply = scenario.start, scenario.apply

    def recording(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append((name, Call(args, kwargs)))
            return function(*args, **kwargs)
        return call

    scenario.start = recording("start", original_start)  # type: ignore[assignment]
    scenario.apply = recording("apply", original_apply)  # type: ignore[assignment]
    try:
        result = scenario.run(flow)
    finally:
        scenario.start, scenario.apply = original_start, original_apply  # type: ignore[assignment]
    if not result.ok:
        raise SystemExit(f"{flow.name} fails: fix the scenario first")
    starts = [c for name, c in calls if name == "start"]
    if len(starts) != 1:
        raise SystemExit(f"{flow.name} opens {len(starts)} cases; the bench replays one")
    start = starts[0]
    number = start.args[6]
    applies = [c for name, c in calls if name == "apply" and c.args[1].number == number]
    return start.args[0], start, applies


def engine_run(definition: DefinitionSet, start: Call, applies: list[Call]) -> Case:
    """The whole flow once through the engine."""
    case = machine.start(*start.args, **start.kwargs).case
    for call in applies:
        case = machine.apply(definition, case, *call.args[2:], **call.kwargs).case
    return case


@dataclass(frozen=True)
class Minimal:
    """A minimal workflow's case: state, values and the steps taken."""

    state: str
    values: Mapping[str, Any]
    steps: tuple[tuple[str, str], ...]


def minimal_machine(definition: DefinitionSet, start: Call, applies: list[Call]
                    ) -> tuple[dict[tuple[str, str], str], Callable[[], Minimal]]:
    """The same steps as a transition table with roles and required inputs, and a run."""
    process = definition.process(start.args[1])
    table: dict[tuple[str, str], str] = {}
    rules: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {}
    case = machine.start(*start.args, **start.kwargs).case
    states = [case.state]
    for call in applies:
        case = machine.apply(definition, case, *call.args[2:], **call.kwargs).case
        states.append(case.state)
    for index, call in enumerate([start, *applies]):
        step_id = call.args[2]
        step = process.step(step_id)
        assert step is not None
        table[(states[index - 1] if index else "", step_id)] = states[index]
        required = tuple(i.field for i in step.inputs if i.required is True)
        rules[step_id] = (frozenset(step.roles), required)

    def run() -> Minimal:
        current = Minimal("", {}, ())
        for call in [start, *applies]:
            step_id, actor = call.args[2], call.args[3]
            inputs: Mapping[str, Any] = call.args[4]
            roles, required = rules[step_id]
            if roles and not roles & actor.roles:
                raise RuntimeError(f"{actor.id} may not take {step_id}")
            missing = [name for name in required if name not in inputs]
            if missing:
                raise RuntimeError(f"{step_id} needs {missing}")
            current = Minimal(table[(current.state, step_id)], {**current.values, **inputs},
                              (*current.steps, (step_id, actor.id)))
        return current

    return table, run


def timed(rounds: int, timings: int, work: Callable[[], object]) -> float:
    """The best of ``timings`` timings of ``rounds`` runs, in CPU seconds per run."""
    best = float("inf")
    for _ in range(timings):
        began = time.process_time()
        for _ in range(rounds):
            work()
        best = min(best, (time.process_time() - began) / rounds)
    return best


def measure(flow: Path, rounds: int, timings: int) -> tuple[float, float]:
    """Seconds per step of the engine and of the minimal machine on ``flow``, printed."""
    definition, start, applies = record(flow)
    steps = 1 + len(applies)
    _, minimal = minimal_machine(definition, start, applies)
    final = engine_run(definition, start, applies)
    if minimal().state != final.state:
        raise SystemExit(f"{flow.name}: the minimal machine does not end where the engine does")
    engine = timed(rounds, timings, lambda: engine_run(definition, start, applies)) / steps
    baseline = timed(rounds, timings, minimal) / steps
    print(f"flow: {flow.name}, {steps} steps from intake to '{final.state}' "
          f"(case {final.number}), {rounds} flows per timing, best of {timings}")
    print(f"  engine (machine.start/apply):  {engine * 1e6:8.1f} us per step")
    print(f"  minimal state machine:         {baseline * 1e6:8.1f} us per step")
    print(f"  ratio engine/minimal:          {engine / baseline:8.1f}")
    return engine, baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=50, help="whole flows per timing")
    parser.add_argument("--timings", type=int, default=30, help="timings, the best counts")
    args = parser.parse_args()
    full, full_baseline = measure(FULL, args.rounds, args.timings)
    lean, baseline = measure(LEAN, args.rounds, args.timings)
    print(f"full bundled complaint: {full * 1e6:.1f} us per step; "
          f"ratio engine/minimal: {full / full_baseline:.1f}")
    print(f"lean (SpiffWorkflow-equivalent) complaint: {lean * 1e6:.1f} us per step "
          f"(target <= {TARGET_US:.0f}); ratio engine/minimal: {lean / baseline:.1f}")


if __name__ == "__main__":
    main()
