"""Fixtures shared by every test layer: bundled definitions, a fixed clock, set factories."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from qmsflow.engine.loader import load
from qmsflow.engine.model import DefinitionSet

# Shared machines are noisy: property tests check behaviour, never speed, so no per-example
# deadline (speed is measured by bench/, not by tests).
settings.register_profile("qmsflow", deadline=None)
settings.load_profile("qmsflow")

# Every database of the suite seals its audit trail with one key, given to the test databases'
# sessions, the commands, the web applications and the processes the tests start (which inherit
# the environment): as in production, where every worker and command holds the same key.
AUDIT_KEY = "the test suite's audit key: public, never a real one"
os.environ["QMSFLOW_AUDIT_KEY"] = AUDIT_KEY

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = ROOT / "definitions" / "default"
EXAMPLE_SETS = sorted(p.parent for p in (ROOT / "definitions" / "examples").glob("*/set.yaml"))
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Debian Chromium for the session (per xdist worker), shared by every browser
    test: Playwright's sync API runs one event loop per process, so there is only one."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} ('make test' installs Debian's package)")
    # Chromium refuses to start its sandbox as root (containers, CI).
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def default_set() -> DefinitionSet:
    """The bundled default definition set, compiled once."""
    return load(DEFAULT_SET)


@pytest.fixture
def now() -> datetime:
    """A fixed clock: Monday 2 March 2026, 10:00 in Shanghai."""
    return datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


EditSet = Callable[..., Path]


@pytest.fixture
def edited_set(tmp_path: Path) -> EditSet:
    """A copy of the default set with text replaced or files written, for loader tests.

    ``edited_set(("processes/complaint.yaml", "old", "new"), files={"x.yaml": "..."})``
    """

    def make(*replacements: tuple[str, str, str], files: dict[str, str] | None = None) -> Path:
        target = tmp_path / "set"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(DEFAULT_SET, target)
        for name, old, new in replacements:
            path = target / name
            text = path.read_text(encoding="utf-8")
            assert old in text, f"{old!r} not in {name}"
            path.write_text(text.replace(old, new, 1), encoding="utf-8")
        for name, content in (files or {}).items():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_text(content, encoding="utf-8")
        return target

    return make
