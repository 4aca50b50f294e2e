"""Every bundled scenario holds: each path of each process, step by step."""

from __future__ import annotations

from pathlib import Path

import pytest

from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.scenario import run

from ..conftest import SCENARIOS


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_the_bundled_scenario_holds_at_every_step(path: Path) -> None:
    result = run(path)
    report = [str(p) for p in result.problems] + [
        f"step {s.index}: {f}" for s in result.steps for f in s.failures]
    assert result.ok, "\n".join(report)
    assert result.steps


def test_scenarios_cover_both_processes_and_the_client_set() -> None:
    texts = [p.read_text(encoding="utf-8") for p in SCENARIOS]
    assert any("process: service_request" in t for t in texts)
    assert any("examples/kangning" in t for t in texts)


@pytest.mark.slow
def test_every_step_of_every_bundled_process_is_taken_in_some_scenario(
        default_set: DefinitionSet) -> None:
    taken = set().union(*(run(path).taken for path in SCENARIOS))
    every = {(process.id, step) for process in default_set.processes.values()
             for step in [*process.starts, *process.steps]}
    assert sorted(every - taken) == []
