"""The steps a case offers are exactly the steps some inputs can take.

For every bundled process, cases are driven by the engine into every state they can reach; in
each, the steps ``machine.available`` offers (no reasons) must be those ``machine.apply``
accepts with some inputs: no offered step that every input refuses, no refused step that some
input takes. The inputs tried are the test's own: every field the step asks for gets a valid
value, and the inputs its condition reads take every value of their domain (every subset of a
multiple choice), sampled with a fixed seed when there are too many combinations.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from qmsflow.engine.cases import Actor, Case, Signature
from qmsflow.engine.machine import Refused, apply, available, start
from qmsflow.engine.model import DefinitionSet, Field, Process, Step
from qmsflow.engine.witnesses import condition_inputs

#: At most this many combinations of a condition's inputs are tried for one step.
MAX_TRIES = 400


@dataclass(frozen=True)
class Profile:
    """How a driver fills the fields a step asks for: what it answers to yes/no questions and
    which choice it picks (by position). Several profiles reach states one cannot (a case the
    customer accepted, and one they did not)."""

    yes: bool = True
    pick: int = 0


PROFILES = (Profile(True, 0), Profile(False, -1), Profile(True, -1))


def everyone(definition: DefinitionSet, who: str) -> Actor:
    """A person holding every role (``who`` tells drivers apart: separation of duties)."""
    return Actor(who, who.title(), frozenset(definition.organisation.roles))


def valid(process: Process, spec: Field, now: datetime, profile: Profile = PROFILES[0]) -> Any:
    """One valid value of ``spec`` (as a client sends it)."""
    kind = spec.type
    if kind in ("integer", "decimal", "money"):
        low = spec.minimum if isinstance(spec.minimum, Decimal) else Decimal(0)
        value = max(low, Decimal(1))
        return int(value) if kind == "integer" else str(value)
    if kind == "yes_no":
        return profile.yes
    if kind == "date":
        return now.date().isoformat()
    if kind == "datetime":
        return now.isoformat()
    if kind == "choice":
        return list(spec.choices)[profile.pick]
    if kind == "multi_choice":
        return [list(spec.choices)[profile.pick]]
    if kind == "category":
        return list(process.categories)[profile.pick]
    if kind == "email":
        return "someone@example.com"
    if kind == "phone":
        return "+86 21 5555 0100"
    return "x" * max(spec.min_length or 1, 10)


def domain(process: Process, spec: Field, now: datetime) -> list[Any]:
    """Every value a condition's input can take, empty first (one sample of an open one)."""
    if spec.type == "yes_no":
        return [None, True, False]
    if spec.type == "choice":
        return [None, *spec.choices]
    if spec.type == "category":
        return [None, *process.categories]
    if spec.type == "multi_choice":
        choices = list(spec.choices)
        return [None, *(list(c) for n in range(len(choices) + 1)
                        for c in itertools.combinations(choices, n))]
    return [None, valid(process, spec, now)]


def tries(process: Process, step: Step, now: datetime,
          profile: Profile = PROFILES[0]) -> Iterator[dict[str, Any]]:
    """Inputs for ``step``: a valid value for each, the condition's inputs over their domains."""
    filled = {item.field: valid(process, process.fields[item.field], now, profile)
              for item in step.inputs}
    names = condition_inputs(process, step)
    domains = [domain(process, process.fields[name], now) for name in names]
    combinations = list(itertools.product(*domains))
    if len(combinations) > MAX_TRIES:
        combinations = random.Random(step.id).sample(combinations, MAX_TRIES)
    for combination in combinations:
        inputs = {**filled, **dict(zip(names, combination, strict=True))}
        yield {name: value for name, value in inputs.items() if value is not None}


@dataclass
class Taken:
    """The first inputs ``apply`` accepted for a step, and the case it made (None: none)."""

    inputs: dict[str, Any] | None
    case: Case | None


def take(definition: DefinitionSet, case: Case, step: Step, actor: Actor,
         now: datetime, profile: Profile = PROFILES[0]) -> Taken:
    process = definition.process(case.process)
    for inputs in tries(process, step, now, profile):
        try:
            outcome = apply(definition, case, step.id, actor, inputs, now,
                            Signature(actor.id, step.signature or "", True), "checked")
        except Refused:
            continue
        return Taken(inputs, outcome.case)
    return Taken(None, None)


def reachable(definition: DefinitionSet, process: Process, now: datetime) -> Iterator[Case]:
    """A case in each state the process reaches, for each profile, driven by the engine (each
    step by another person, so separation of duties never blocks the way)."""
    for profile in PROFILES:
        yield from _reachable(definition, process, now, profile)


def _reachable(definition: DefinitionSet, process: Process, now: datetime,
               profile: Profile) -> Iterator[Case]:
    drivers = (everyone(definition, f"driver{n}") for n in itertools.count())
    waiting: deque[Case] = deque()
    for number, step in enumerate(process.starts.values()):
        driver = next(drivers)
        for inputs in tries(process, step, now, profile):
            try:
                outcome = start(definition, process.id, step.id, driver, inputs, now,
                                f"T-{number}", Signature(driver.id, step.signature or "", True),
                                "checked")
            except Refused:
                continue
            waiting.append(outcome.case)
            break
    seen: set[str] = set()
    while waiting:
        case = waiting.popleft()
        if case.state in seen:
            continue
        seen.add(case.state)
        yield case
        if process.states[case.state].final:
            continue
        # Steps that stay (decisions and records offered in every state, such as the signed
        # reportability decision) are taken first, so the ways out that need them open up.
        for step in process.steps.values():
            if step.stays and case.state in step.sources:
                stayed = take(definition, case, step, next(drivers), now, profile)
                if stayed.case is not None:
                    case = stayed.case
        for step in process.steps.values():
            if case.state in step.sources and not step.stays:
                taken = take(definition, case, step, next(drivers), now, profile)
                if taken.case is not None and taken.case.state not in seen:
                    waiting.append(taken.case)


@pytest.mark.parametrize("process_id", ["complaint", "service_request"])
def test_the_steps_offered_are_exactly_those_some_inputs_can_take(
        default_set: DefinitionSet, now: datetime, process_id: str) -> None:
    process = default_set.process(process_id)
    checker = everyone(default_set, "checker")
    states = []
    for case in reachable(default_set, process, now):
        states.append(case.state)
        if process.states[case.state].final:
            continue
        for step_id, reasons in available(default_set, case, checker, now).items():
            taken = take(default_set, case, process.steps[step_id], checker, now)
            if not reasons:
                assert taken.inputs is not None, f"{case.state}: '{step_id}' offered, but " \
                                                 "every input tried is refused"
            else:
                assert taken.inputs is None, (
                    f"{case.state}: '{step_id}' refused ({[r.code for r in reasons]}), but "
                    f"apply takes it with {taken.inputs}")
    # The drive reaches every state, so every state's steps were checked.
    assert set(states) == set(process.states)
