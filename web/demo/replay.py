"""Replaying scenarios through the case service, moved in time to end shortly before now.

Date and time inputs move with the replay and user fields name the demo accounts, so the audit
trail, the signatures and the deadline clocks are the real thing. Prefixes of the scenarios are
replayed too, so that cases rest in every state a scenario reaches; a final deadline sweep at
now leaves overdue cases with their warning and breach actions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from qmsflow.engine.errors import QmsflowError
from qmsflow.engine.machine import Refused
from qmsflow.engine.model import DefinitionSet, Process
from qmsflow.engine.persistence import (
    CaseNotFound,
    CaseService,
    Conflict,
    overview,
    users,
    versions,
)
from qmsflow.engine.scenario import linked_name

from ..runtime import Runtime
from .people import PasswordFor
from .scenarios import Scenario, parse_moment

# How long before now each replay ends, in turn: fresh, a few days old, more than a week old.
# With deadlines of hours (service) to working days (complaints) that leaves some open cases
# comfortable, some due soon and some overdue.
RESTS = (timedelta(hours=2), timedelta(days=2), timedelta(days=6))


def last_month_rest(now: datetime) -> timedelta:
    """How long before ``now`` the history replay ends: the middle of last month, so that last
    month's reports (the monthly statistics and KPIs) have cases to count."""
    return now - (now.replace(day=1) - timedelta(days=14))


class _Clock:
    """The seeding service's clock: set to each step's (shifted) time before the step."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class _Stop(QmsflowError):
    """A replay cannot go on: a step names an actor or a case the replay does not know."""


def _shift_inputs(process: Process, inputs: Mapping[str, Any], shift: timedelta,
                  people: Mapping[str, str]) -> dict[str, Any]:
    """The step's inputs with dates and times moved like the replay, user fields mapped to
    demo accounts. A value that does not parse is left for the engine to refuse clearly."""
    moved: dict[str, Any] = {}
    for name, value in inputs.items():
        spec = process.fields.get(name)
        kind = spec.type if spec else None
        try:
            if kind == "datetime" and isinstance(value, str):
                value = (parse_moment(value) + shift).isoformat()
            elif kind == "date" and isinstance(value, str):
                value = (date.fromisoformat(value) + timedelta(days=shift.days)).isoformat()
        except ValueError:
            pass
        if kind == "user" and isinstance(value, str):
            value = people.get(value, value)
        moved[name] = value
    return moved


class Seeder:
    """Replays scenarios through a case service whose clock it moves."""

    def __init__(self, rt: Runtime, definition: DefinitionSet, now: datetime,
                 password_for: PasswordFor, hasher: PasswordHasher,
                 people: Mapping[tuple[Path, str], str]) -> None:
        self.clock = _Clock(now)
        self.now = now
        self.definition = definition
        self.password_for = password_for
        self.people = people
        self.sessions = rt.sessions
        self.service = CaseService(rt.sessions, versions.Versions(), definition, self.clock,
                                   hasher)
        self.stopped: list[str] = []
        self.replays = 0

    def shift(self, scenario: Scenario, length: int, rest: timedelta) -> timedelta:
        """How far to move a replay so that step ``length`` ends ``rest`` before now.

        A rest under a day is kept to the minute, so cases on hour-scale deadlines come out
        due soon or on time; longer rests move by whole days (ending at least ``rest`` before
        now), so the times of day stay as written."""
        end = max(scenario.times[:length])  # scenarios may step back in time with "at"
        unit = timedelta(minutes=1) if rest < timedelta(days=1) else timedelta(days=1)
        return unit * math.floor((self.now - rest - end) / unit)

    def replay(self, scenario: Scenario, length: int, rest: timedelta
               ) -> list[frozenset[tuple[str, str]]]:
        """Take the first ``length`` steps; after each, the (process, state) of its cases."""
        self.replays += 1
        shift = self.shift(scenario, length, rest)
        labels: dict[str, tuple[str, str]] = {}  # label -> (number, process)
        current: list[str | None] = [None]
        held: list[frozenset[tuple[str, str]]] = []
        for index, step in enumerate(scenario.steps[:length]):
            if "refused" in step.get("expect", {}):
                held.append(held[-1] if held else frozenset())
                continue  # the scenario shows a refusal: nothing to store
            self.clock.now = scenario.times[index] + shift
            try:
                self._step(scenario, step, shift, labels, current)
            except (Refused, users.UserError, CaseNotFound, Conflict, KeyError, _Stop) as error:
                what = step.get("open") or step.get("do") or "sweep"
                self.stopped.append(f"{scenario.file.name} step {index + 1} ({what}): "
                                    f"{str(error).strip(chr(34))}")
                break
            held.append(self._states([number for number, _ in labels.values()]))
        return held

    def _step(self, scenario: Scenario, step: Mapping[str, Any], shift: timedelta,
              labels: dict[str, tuple[str, str]], current: list[str | None]) -> None:
        people = {user: demo for (file, user), demo in self.people.items()
                  if file == scenario.file}
        label = step.get("case") or current[0]
        if step.get("escalate"):
            number, _ = self._labelled(labels, label)
            outcome = self.service.escalate_case(number)
            if any(event.kind == "open_case" for event in outcome.events):
                self._links(self.service.read_case(number).case.links, labels)
            current[0] = label
            return
        actor = people.get(str(step.get("actor")))
        if actor is None:
            raise _Stop(f"unknown actor {step.get('actor')!r}")
        sign = step.get("sign")
        password = self.password_for(actor) if sign else None
        meaning = sign if isinstance(sign, str) else None
        if "open" in step:
            process = step.get("process") or next(iter(self.definition.processes))
            inputs = _shift_inputs(self.definition.process(process), step.get("inputs", {}),
                                   shift, people)
            case = self.service.create_case(process, step["open"], actor, inputs,
                                            password=password, meaning=meaning,
                                            reason=step.get("reason"), client="demo")
            label = step.get("as") or case.number
            labels[label] = (case.number, case.process)
        else:
            number, process = self._labelled(labels, label)
            inputs = _shift_inputs(self.definition.process(process), step.get("inputs", {}),
                                   shift, people)
            case = self.service.apply_step(number, step["do"], actor, inputs,
                                             password=password, meaning=meaning,
                                             reason=step.get("reason"), client="demo")
        self._links(case.links, labels)
        current[0] = label

    @staticmethod
    def _labelled(labels: Mapping[str, tuple[str, str]], label: str | None) -> tuple[str, str]:
        if label is None or label not in labels:
            raise _Stop(f"no case {label!r} yet")
        return labels[label]

    @staticmethod
    def _links(links: Sequence[Any], labels: dict[str, tuple[str, str]]) -> None:
        """Linked cases are known by their names in the scenario runner."""
        known = {number for number, _ in labels.values()}
        for link in links:
            if link.number not in known:  # the source holds '<relation>:reverse'
                name = linked_name(link.relation.removesuffix(":reverse"), labels)
                labels[name] = (link.number, link.process)
                known.add(link.number)

    def _states(self, numbers: Sequence[str]) -> frozenset[tuple[str, str]]:
        with self.service.transaction() as session:
            return overview.states_of(session, numbers)

    def sweep(self) -> None:
        """Run the deadline sweep over every open case at now, as the scheduled sweep would
        have: overdue cases carry their warning and breach actions."""
        self.clock.now = self.now
        with self.service.transaction() as session:
            numbers = overview.open_numbers(session)
        for number in numbers:
            self.service.escalate_case(number)


def _prefixes(scenarios: Sequence[Scenario], runs: Sequence[list[frozenset[tuple[str, str]]]],
              wanted: Sequence[tuple[str, str]], covered: set[tuple[str, str]]
              ) -> list[tuple[Scenario, int]]:
    """The shortest scenario prefixes that leave a case in each state not yet covered."""
    chosen: list[tuple[Scenario, int]] = []
    for state in wanted:
        if state in covered:
            continue
        options = [(length, index) for index, held in enumerate(runs)
                   for length, states in enumerate(held, start=1) if state in states]
        if not options:
            continue
        length, index = min(options)
        chosen.append((scenarios[index], length))
        covered |= runs[index][length - 1]
    return chosen


def replay_all(seeder: Seeder, scenarios: Sequence[Scenario],
               states: Sequence[tuple[str, str]], say: Callable[[str], None]) -> None:
    """Every scenario whole, then the prefixes that leave cases in the states still empty."""
    rests = _cycle(RESTS)
    runs = []
    covered: set[tuple[str, str]] = set()
    for scenario in scenarios:
        held = seeder.replay(scenario, len(scenario.steps), next(rests))
        runs.append(held)
        covered |= held[-1] if held else frozenset()
    say(f"replayed {len(scenarios)} scenario(s)")
    prefixes = _prefixes(scenarios, runs, states, covered)
    for scenario, length in prefixes:
        seeder.replay(scenario, length, next(rests))
    say(f"replayed {len(prefixes)} scenario prefix(es) to leave cases in intermediate states")
    for scenario in scenarios:
        seeder.replay(scenario, len(scenario.steps), last_month_rest(seeder.now))
    say(f"replayed {len(scenarios)} scenario(s) a month earlier, for last month's reports")
    seeder.sweep()


def _cycle(items: Sequence[timedelta]) -> Iterator[timedelta]:
    while True:
        yield from items
