"""What a step hands back: the new case carries everything it does not change, the audit trail
names every field that changed, and a case's values have one order whatever the hash seed."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qmsflow.engine import scenario
from qmsflow.engine.cases import Case, assemble
from qmsflow.engine.events import Outcome, changes

from ..conftest import ROOT, SCENARIOS

LEAN_FLOW = ROOT / "bench" / "flows" / "spiff_complaint_closed.yaml"


def steps_taken(path: Path) -> list[tuple[Case, Outcome]]:
    """Every step a scenario takes on an existing case: the case before and the outcome."""
    taken: list[tuple[Case, Outcome]] = []
    original = scenario.apply

    def apply(*args: Any, **kwargs: Any) -> Outcome:
        outcome = original(*args, **kwargs)
        taken.append((args[1], outcome))
        return outcome

    scenario.apply = apply  # type: ignore[assignment]
    try:
        assert scenario.run(path).ok
    finally:
        scenario.apply = original  # type: ignore[assignment]
    return taken


@pytest.mark.parametrize("path", [*SCENARIOS, LEAN_FLOW], ids=lambda p: p.name)
def test_the_audit_trail_names_every_field_a_step_changed(path: Path) -> None:
    # A step compares only the fields it was given and those its effects set: the events
    # must be those a comparison of every field of the two cases gives.
    for before, outcome in steps_taken(path):
        after = outcome.case
        every = [e for e in changes(before, after, after.updated_at, None, ())
                 if e.kind == "field_changed"]
        recorded = [e for e in outcome.events if e.kind == "field_changed"]
        assert [dict(e.data) for e in recorded] == [dict(e.data) for e in every]


def test_a_step_carries_every_part_of_the_case_it_does_not_change() -> None:
    # A step assembles the new case from every field by name: one added to Case must be
    # carried over there (assemble refuses a case with a field left out).
    assert [f.name for f in dataclasses.fields(Case)] == [
        "process", "version", "number", "state", "values", "priority", "flags",
        "assignee_role", "created_at", "updated_at", "clocks", "steps", "links", "assignee",
        "priority_override", "closed_at", "row_version"]
    before, outcome = steps_taken(LEAN_FLOW)[0]
    after = outcome.case

    def unchanged(name: str) -> bool:
        return bool(getattr(before, name) == getattr(after, name))

    assert all(unchanged(name) for name in ("process", "version", "number", "created_at",
                                             "links", "priority_override", "closed_at"))
    assert after.row_version == before.row_version + 1
    assert after.steps[:-1] == before.steps


def test_a_case_keeps_its_values_in_one_order_whatever_the_hash_seed() -> None:
    script = (
        "from qmsflow.engine import scenario\n"
        "cases = []\n"
        "original = scenario.start\n"
        "def start(*a, **k):\n"
        "    outcome = original(*a, **k)\n"
        "    cases.append(outcome.case)\n"
        "    return outcome\n"
        "scenario.start = start\n"
        f"scenario.run({str(ROOT / 'scenarios' / 'complaint_domestic_closed.yaml')!r})\n"
        "print(list(cases[0].values))\n")
    orders = set()
    for seed in ("1", "2", "3"):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}, check=True)
        orders.add(done.stdout)
    assert len(orders) == 1


def test_a_case_assembled_with_a_field_left_out_is_refused() -> None:
    before, _ = steps_taken(LEAN_FLOW)[0]
    parts = {f.name: getattr(before, f.name) for f in dataclasses.fields(Case)}
    assert assemble(**parts) == before
    del parts["links"]
    with pytest.raises(TypeError) as refused:
        assemble(**parts)
    assert "exactly its fields" in str(refused.value)
