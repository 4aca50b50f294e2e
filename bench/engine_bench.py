"""Benchmark: the engine in memory, step by step through a whole complaint, against a minimal
state machine taking the same steps.

The flow is the bundled scenario ``complaint_domestic_closed.yaml`` (intake to closure: the
complaint flow a SpiffWorkflow or viewflow process would model, with its signatures, rules,
clocks and effects). Its engine calls are recorded once through the scenario runner, then
replayed: ``machine.start`` and ``machine.apply`` on the same definitions, actors, inputs and
times, each step on the case the step before returned; no database, no IO.

The baseline, measured in the same run, is the least a workflow interpreter does per step: look
the transition up in a table, check the actor's role and the required inputs, and make the new
case (state, values merged, the step appended). The engine does this and everything the
definitions say (typed values, conditions, priority and authority rules, working-time clocks,
effects, events).

The last line: microseconds per engine step (target <= 25) and the ratio to the baseline.

Run: .venv/bin/python bench/engine_bench.py [--rounds 300]
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
FLOW = ROOT / "scenarios" / "complaint_domestic_closed.yaml"
TARGET_US = 25.0


@dataclass(frozen=True)
class Call:
    """One engine call as the scenario made it: start (no case) or apply."""

    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]


def record() -> tuple[DefinitionSet, Call, list[Call]]:
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
        result = scenario.run(FLOW)
    finally:
        scenario.start, scenario.apply = original_start, original_apply  # type: ignore[assignment]
    if not result.ok:
        raise SystemExit(f"{FLOW.name} fails: fix the scenario first")
    starts = [c for name, c in calls if name == "start"]
    if len(starts) != 1:
        raise SystemExit(f"{FLOW.name} opens {len(starts)} cases; the bench replays one")
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


def timed(rounds: int, work: Callable[[], object]) -> float:
    """The best of five timings of ``rounds`` runs, in seconds per run."""
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(rounds):
            work()
        best = min(best, (time.perf_counter() - began) / rounds)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=300, help="whole flows per timing")
    args = parser.parse_args()
    definition, start, applies = record()
    steps = 1 + len(applies)
    _, minimal = minimal_machine(definition, start, applies)
    final = engine_run(definition, start, applies)
    if minimal().state != final.state:
        raise SystemExit("the minimal machine does not end where the engine does")
    engine = timed(args.rounds, lambda: engine_run(definition, start, applies)) / steps
    baseline = timed(args.rounds, minimal) / steps
    print(f"flow: {FLOW.name}, {steps} steps from intake to '{final.state}' "
          f"(case {final.number}), {args.rounds} flows per timing, best of 5")
    print(f"  engine (machine.start/apply):  {engine * 1e6:8.1f} us per step")
    print(f"  minimal state machine:         {baseline * 1e6:8.1f} us per step")
    print(f"engine: {engine * 1e6:.1f} us per step (target <= {TARGET_US:.0f}); "
          f"ratio engine/minimal: {engine / baseline:.1f}")


if __name__ == "__main__":
    main()
