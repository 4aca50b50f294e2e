"""The commands client repositories' CI jobs run load the engine alone, never the web or database
libraries (the promise of qmsflow/cli/__init__.py and validate.py).

Each command runs in a fresh interpreter, in-process through Click, and the interpreter then
prints every module it loaded; importing any library of the web application or the database in
the test process itself cannot hide or fake what the command loads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import DEFAULT_SET, ROOT, SCENARIOS

#: Libraries of the web application, the database and the reports (top-level module names).
HEAVY = frozenset({"flask", "flask_babel", "flask_login", "flask_wtf", "werkzeug", "sqlalchemy",
                   "alembic", "wtforms", "openpyxl", "psycopg", "weasyprint"})
MARK = "--- modules loaded ---"

# Runs ``qmsflow ARGS`` in this interpreter as the console script would, then prints the
# command's exit status and every loaded module as one line of JSON after MARK.
DRIVER = f"""
import json, sys
from qmsflow.cli import main
try:
    main(sys.argv[1:], prog_name="qmsflow")
except SystemExit as stop:
    status = stop.code or 0
else:
    status = "returned without exiting"
sys.stdout.write("\\n{MARK}\\n" + json.dumps({{"status": status, "modules": sorted(sys.modules)}})
                 + "\\n")
"""


def run(cwd: Path, *args: str) -> tuple[int | str, str, list[str]]:
    env = {k: v for k, v in os.environ.items()
           if k != "DATABASE_URL" and not k.startswith("QMSFLOW_")}
    done = subprocess.run([sys.executable, "-c", DRIVER, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and MARK in done.stdout, done.stdout + done.stderr
    output, report = done.stdout.rsplit(f"\n{MARK}\n", 1)
    found = json.loads(report)
    return found["status"], output + done.stderr, found["modules"]


def heavy(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


Check = Callable[[str, Path], None]


def _validated(output: str, _: Path) -> None:
    assert output.strip().splitlines()[-1] == f"{DEFAULT_SET}: valid"


def _exported(output: str, folder: Path) -> None:
    assert {"process.schema.json", "scenario.schema.json"} <= {
        p.name for p in (folder / "schemas").glob("*.json")}
    assert "schemas/process.schema.json" in output.splitlines()


def _drawn(output: str, _: Path) -> None:
    assert output.startswith("stateDiagram-v2")
    assert "approval --> reply" in output


def _simulated(output: str, _: Path) -> None:
    assert output.strip().splitlines()[-1] == f"{len(SCENARIOS)} passed, 0 failed"


COMMANDS = [
    pytest.param(("validate", str(DEFAULT_SET)), _validated, id="validate"),
    pytest.param(("schema", "export", "schemas"), _exported, id="schema"),
    pytest.param(("graph", str(DEFAULT_SET), "--process", "complaint", "--locale", "en"), _drawn,
                 id="graph"),
    pytest.param(("simulate", "--quiet", str(ROOT / "scenarios")), _simulated, id="simulate",
                 marks=pytest.mark.slow),  # every bundled scenario: a few seconds
]


@pytest.mark.parametrize(("args", "check"), COMMANDS)
def test_a_ci_command_succeeds_without_loading_web_or_database_libraries(
        args: tuple[str, ...], check: Check, tmp_path: Path) -> None:
    status, output, modules = run(tmp_path, *args)
    assert status == 0, output
    check(output, tmp_path)
    assert "qmsflow.engine.loader" in modules
    assert heavy(modules) == []


def test_the_check_sees_the_libraries_a_database_command_loads(tmp_path: Path) -> None:
    status, output, modules = run(tmp_path, "db", "--help")
    assert status == 0, output
    assert {"sqlalchemy", "alembic"} <= {m.split(".")[0] for m in heavy(modules)}
