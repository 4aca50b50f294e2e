"""Every bundled scenario gives the same result when each case is saved and reloaded between
steps (SpiffWorkflow's save/restore tests): storage changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qmsflow.engine.cases import Case
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import store, versions
from qmsflow.engine.scenario import run

from ..conftest import SCENARIOS
from .conftest import Clock, Database


class Recorder:
    """Keeps the last state of every case a scenario produced, optionally through the DB."""

    def __init__(self, database: Database | None = None, root: Path | None = None,
                 clock: Clock | None = None) -> None:
        self.database, self.root, self.clock = database, root, clock
        self.cases: dict[str, Case] = {}

    def __call__(self, definition: DefinitionSet, case: Case) -> Case:
        if self.database is not None:
            case = self._through_database(definition, case)
        self.cases[case.number] = case
        return case

    def _through_database(self, definition: DefinitionSet, case: Case) -> Case:
        assert self.database is not None and self.root is not None and self.clock is not None
        with self.database.sessions.begin() as session:
            versions.store(session, definition, self.root, self.clock())
            row = store.find_case(session, case.number)
            if row is None:
                store.insert_case(session, definition, case)
            else:
                store.update_cases(session, [store.case_write(
                    definition, row.id, store.to_case(definition, row), case)])
        with self.database.sessions() as session:
            row = store.find_case(session, case.number)
            assert row is not None
            return store.to_case(definition, row)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_a_scenario_saved_and_reloaded_at_every_step_ends_as_the_pure_run(
        path: Path, database: Database, clock: Clock) -> None:
    root = (path.parent / yaml.safe_load(path.read_text(encoding="utf-8"))["definitions"])
    pure, stored = Recorder(), Recorder(database, root, clock)
    expected = run(path, keep=pure)
    result = run(path, keep=stored)
    assert result.ok, [f for step in result.steps for f in step.failures]
    assert [s.summary for s in result.steps] == [s.summary for s in expected.steps]
    assert stored.cases == pure.cases
    assert pure.cases  # the scenario did open cases
