"""Run a simulation scenario: scripted steps through a definition set, each with expectations.

A scenario names a definition set, a fixed start time, the users and a list of steps (open a
case, take a transition, or run the deadline sweep), each followed by what must hold: state,
priority, flags, due times, or a refusal with its reasons. Quality administrators use it to
preview a change; CI uses it to keep every path of a process working.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from . import clocks as clock_ops
from .cases import Actor, Case, Signature
from .escalation import escalate
from .events import Outcome
from .loader import check as check_set
from .loader import load
from .machine import Refused, apply, case_number, open_linked, start
from .model import DefinitionSet
from .problems import DefinitionError, Problem, phrase
from .schemas import validate
from .sources import display_name
from .values import ValueProblem, coerce
from .yamlsource import YMap, mark_of, read_yaml


@dataclass
class StepResult:
    """What happened at one step and which expectations failed."""

    index: int
    line: int
    summary: str
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class ScenarioResult:
    """The outcome of a whole scenario."""

    file: str
    title: str
    steps: list[StepResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    taken: set[tuple[str, str]] = field(default_factory=set)  # (process, step) taken

    @property
    def ok(self) -> bool:
        return not self.problems and all(step.ok for step in self.steps)


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (write e.g. +08:00)")
    return moment


Keep = Callable[[DefinitionSet, Case], Case]


def linked_name(relation: str, taken: Container[str]) -> str:
    """The name a scenario gives a linked case opened under ``relation``: the relation, and
    for a second case under the same relation (the US report after the NMPA one)
    "<relation>_2", and so on; ``taken`` holds the names already given."""
    name, count = relation, 1
    while name in taken:
        count += 1
        name = f"{relation}_{count}"
    return name


class _Run:
    def __init__(self, definition: DefinitionSet, data: Mapping[str, Any], result: ScenarioResult,
                 keep: Keep | None = None) -> None:
        self.definition = definition
        self._keep = keep
        self.result = result
        self.now = _parse_time(data["start"])
        self.zone = ZoneInfo(definition.organisation.timezone)
        self.users = {u["id"]: Actor(u["id"], u["name"], frozenset(u["roles"]))
                      for u in data["users"]}
        self.cases: dict[str, Case] = {}
        self.current: str | None = None
        self.sequences: dict[str, int] = {}

    def keep(self, label: str, case: Case) -> None:
        """Hold ``case`` for the next steps, after the round trip through storage if any."""
        self.cases[label] = self._keep(self.definition, case) if self._keep else case

    def number(self, process_id: str, take: bool = True) -> str:
        """The next case number; ``take=False`` only looks, so a refused intake leaves no gap."""
        process = self.definition.process(process_id)
        local = self.now.astimezone(self.zone)
        reset = {"yearly": f"{local.year}", "monthly": f"{local.year}-{local.month}"}.get(
            process.case_number_reset, "")
        key = f"{process_id}:{reset}"
        sequence = self.sequences.get(key, 0) + 1
        if take:
            self.sequences[key] = sequence
        return case_number(process, local, sequence)

    def step(self, index: int, step: Mapping[str, Any], line: int) -> StepResult:
        if "at" in step:
            self.now = _parse_time(step["at"])
        if "advance" in step:
            span = step["advance"]
            self.now += timedelta(days=span.get("days", 0), hours=span.get("hours", 0),
                                  minutes=span.get("minutes", 0))
        actor = self.users.get(step.get("actor", ""))
        what = step.get("open") or step.get("do") or ("escalate" if step.get("escalate") else "?")
        result = StepResult(index, line, f"{step.get('actor', 'sweep')}: {what} at "
                                         f"{self.now.astimezone(self.zone):%Y-%m-%d %H:%M}")
        expect = step.get("expect", {})
        refusal: Refused | None = None
        outcome: Outcome | None = None
        label = step.get("case") or self.current
        try:
            if step.get("escalate"):
                case = self._case(label)
                outcome = escalate(self.definition, case, self.now)
            elif actor is None:
                result.failures.append(f"unknown actor {step.get('actor')!r}")
                return result
            elif "open" in step:
                process = step.get("process") or next(iter(self.definition.processes))
                outcome = start(self.definition, process, step["open"], actor,
                                step.get("inputs", {}), self.now,
                                self.number(process, take=False),
                                self._signature(step, actor, process, step["open"]),
                                step.get("reason"))
                self.number(process)
                label = step.get("as") or outcome.case.number
            else:
                case = self._case(label)
                outcome = apply(self.definition, case, step["do"], actor,
                                step.get("inputs", {}), self.now,
                                self._signature(step, actor, case.process, step["do"]),
                                step.get("reason"), linked=self.finished())
        except Refused as refused:
            refusal = refused
        except KeyError as error:
            result.failures.append(str(error).strip('"'))
            return result
        if outcome is not None and label is not None:
            self.keep(label, outcome.case)
            if what != "escalate":
                self.result.taken.add((outcome.case.process, what))
            self.current = label
            self._linked(outcome, label, actor or next(iter(self.users.values())), result,
                         expect.get("opened"))
        self._check(expect, refusal, result)
        return result

    def finished(self) -> dict[str, bool]:
        """Whether each case of the run is finished, by number (what a close that waits for
        its linked cases reads)."""
        return {case.number: case.closed_at is not None for case in self.cases.values()}

    def _case(self, label: str | None) -> Case:
        if label is None or label not in self.cases:
            raise KeyError(f"no case {label!r} yet: open one first (known: "
                           f"{', '.join(self.cases) or 'none'})")
        return self.cases[label]

    def _signature(self, step: Mapping[str, Any], actor: Actor, process: str,
                   action: str) -> Signature | None:
        sign = step.get("sign")
        if not sign:
            return None
        spec = self.definition.process(process).step(action)
        meaning = sign if isinstance(sign, str) else (spec.signature if spec else None) or ""
        return Signature(actor.id, meaning, True)

    def _linked(self, outcome: Outcome, label: str, actor: Actor, result: StepResult,
                wanted: str | None) -> None:
        opened = []
        for event in outcome.events:
            if event.kind != "open_case":
                continue
            process = str(event.data["process"])
            linked, source = open_linked(self.definition, self.cases[label], event, actor,
                                         self.now, self.number(process))
            self.keep(label, source)
            relation = str(event.data["relation"])
            self.keep(linked_name(relation, self.cases), linked.case)
            opened.append(relation)
        if wanted and wanted not in opened:
            result.failures.append(f"expected a linked case '{wanted}' to be opened, "
                                   f"opened: {', '.join(opened) or 'none'}")

    def _check(self, expect: Mapping[str, Any], refusal: Refused | None,
               result: StepResult) -> None:
        fail = result.failures.append
        if "refused" in expect:
            if refusal is None:
                fail(f"expected a refusal ({', '.join(expect['refused'])}), but the step was "
                     "taken")
                return
            codes = {r.code for r in refusal.reasons}
            missing = [c for c in expect["refused"] if c not in codes]
            if missing:
                fail(f"expected refusal reasons {missing}, got: {refusal}")
            if "message" in expect and expect["message"] not in str(refusal):
                fail(f"expected the refusal to say {expect['message']!r}, got: {refusal}")
            result.summary += f" (refused: {'; '.join(r.message for r in refusal.reasons)})"
            return
        if refusal is not None:
            fail(f"refused: {refusal}")
            return
        case = self.cases[self.current or ""]
        process = self.definition.process(case.process)
        result.summary += f" -> {case.number} {case.state} [{case.priority}]"
        for key in ("state", "priority", "assignee_role"):
            if key in expect and getattr(case, key) != expect[key]:
                fail(f"expected {key} {expect[key]!r}, got {getattr(case, key)!r}")
        if "flags" in expect and case.flags != frozenset(expect["flags"]):
            fail(f"expected flags {sorted(expect['flags'])}, got {sorted(case.flags)}")
        if "number" in expect and not re.fullmatch(expect["number"], case.number):
            fail(f"expected the number to match {expect['number']!r}, got {case.number!r}")
        for name, wanted in expect.get("values", {}).items():
            spec = process.fields.get(name)
            try:
                typed = coerce(spec, wanted, process) if spec else wanted
            except ValueProblem as problem:
                fail(f"expected value of {name} is not valid: {problem}")
                continue
            if case.values.get(name) != typed:
                fail(f"expected {name} = {typed!r}, got {case.values.get(name)!r}")
        for cid, standing in expect.get("clocks", {}).items():
            state = case.clocks.get(cid)
            got = clock_ops.view(state, self.now) if state else "absent"
            if got != standing:
                fail(f"expected clock {cid} {standing}, got {got}")
        for cid, wanted in expect.get("due", {}).items():
            state = case.clocks.get(cid)
            if state is None:
                fail(f"expected clock {cid} due {wanted}, but it is not running")
                continue
            local = state.due_at.astimezone(self.zone)
            if len(wanted) == 10:
                if local.date() != date.fromisoformat(wanted):
                    fail(f"expected {cid} due on {wanted}, got {local:%Y-%m-%d %H:%M}")
            elif state.due_at != _parse_time(wanted):
                fail(f"expected {cid} due at {wanted}, got {local.isoformat()}")
        for cid, years in expect.get("unofficial", {}).items():
            state = case.clocks.get(cid)
            got_years = list(state.unofficial_years) if state else []
            if got_years != list(years):
                fail(f"expected clock {cid} flagged for years {years}, got {got_years}")


def _time_problems(data: YMap) -> list[Problem]:
    """A step whose ``at`` lies before the time the scenario has already reached."""
    problems: list[Problem] = []
    try:
        now = _parse_time(data["start"])
    except ValueError:
        return problems  # reported when the run starts (S005)
    for index, step in enumerate(data["steps"]):
        if "at" in step:
            try:
                moment = _parse_time(step["at"])
            except ValueError:
                continue  # reported on the step itself
            if moment < now:
                mark = mark_of(data, ["steps", index, "at"])
                problems.append(Problem.of(
                    mark.file, mark.line, mark.column, "E219", f"$.steps[{index}].at",
                    phrase("step {number} is at {at}, before the time the scenario has "
                           "already reached ({now}): time never goes back", number=index + 1,
                           at=step["at"], now=now.isoformat()),
                    phrase("order the steps by time, or use 'advance' to move forward")))
            else:
                now = moment
        span = step.get("advance")
        if span:
            now += timedelta(days=span.get("days", 0), hours=span.get("hours", 0),
                             minutes=span.get("minutes", 0))
    return problems


def check(path: Path | str) -> list[Problem]:
    """The problems of a scenario file found without running it (YAML, schema, step times,
    and its definition set's own problems)."""
    file = Path(path)
    data, problems = read_yaml(file, display_name(file))
    if data is None or problems:
        return list(problems)
    problems = validate("scenario", data)
    if problems:
        return list(problems)
    return sorted(set([*_time_problems(data), *check_set(file.parent / data["definitions"])]))


def run(path: Path | str, keep: Keep | None = None) -> ScenarioResult:
    """Run one scenario file and report each step.

    ``keep`` sees every case a step produces and returns the case the next steps use: the
    persistence tests save and reload it there, to show storage changes nothing.
    """
    file = Path(path)
    name = display_name(file)
    data, problems = read_yaml(file, name)
    result = ScenarioResult(name, "")
    if data is None or problems:
        result.problems.extend(problems)
        return result
    schema_problems = validate("scenario", data)
    if schema_problems:
        result.problems.extend(schema_problems)
        return result
    result.title = data["title"]
    result.problems.extend(_time_problems(data))
    if result.problems:
        return result
    try:
        definition = load(file.parent / data["definitions"])
    except DefinitionError as error:
        result.problems.extend(error.problems)
        return result
    try:
        runner = _Run(definition, data, result, keep)
    except ValueError as error:
        mark = mark_of(data, ["start"])
        result.problems.append(Problem(mark.file, mark.line, mark.column, "S005", "$.start",
                                       str(error)))
        return result
    for index, step in enumerate(data["steps"]):
        line = mark_of(data, ["steps", index]).line
        try:
            result.steps.append(runner.step(index + 1, step, line))
        except ValueError as error:
            failed = StepResult(index + 1, line, "invalid step")
            failed.failures.append(str(error))
            result.steps.append(failed)
    return result
