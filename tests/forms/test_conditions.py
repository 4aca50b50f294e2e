"""Conditions in the browser: translated for every bundled show_if, evaluated like Python."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from qmsflow.engine.expressions import EvaluationError, compile_expression
from qmsflow.engine.model import DefinitionSet
from qmsflow.forms import client_condition

from ..conftest import ROOT

SCRIPT = ROOT / "web" / "static" / "js" / "forms.js"

# (expression, context): what definitions write, and the corners where JavaScript and Python
# differ unless the evaluator takes care (none, empty lists, text against numbers, tuples).
CASES: list[tuple[str, dict[str, Any]]] = [
    ("patient_involved", {"patient_involved": True}),
    ("patient_involved", {"patient_involved": False}),
    ("patient_involved", {}),
    ("investigated == false", {"investigated": False}),
    ("investigated == false", {"investigated": None}),
    ("investigated == false", {"investigated": 0}),
    ("'compensate' in handling", {"handling": ["repair", "compensate"]}),
    ("'compensate' in handling", {"handling": ["repair"]}),
    ("'compensate' in handling", {"handling": None}),
    ("'compensate' not in handling", {"handling": []}),
    ("service_type == 'paid'", {"service_type": "paid"}),
    ("service_type == 'paid'", {"service_type": None}),
    ("state == 'on_site'", {"state": "on_site"}),
    ("parts_used is not none", {"parts_used": "filter"}),
    ("parts_used is not none", {"parts_used": None}),
    ("parts_used is none", {}),
    ("x == none", {"x": None}),
    ("x != 1", {"x": "1"}),
    ("x == 1", {"x": 1.0}),
    ("x == 1", {"x": True}),
    ("x < 5", {"x": 4.5}),
    ("x <= 5", {"x": 5}),
    ("x > y", {"x": "b", "y": "a"}),
    ("x >= 0", {"x": None}),
    ("x > 1", {"x": "2"}),
    ("1 < x < 10", {"x": 5}),
    ("1 < x < 10", {"x": 10}),
    ("x < y", {"x": [1, 2], "y": [1, 3]}),
    ("x < y", {"x": [1], "y": 1}),
    ("x in 'abc'", {"x": "b"}),
    ("x in 'abc'", {"x": 1}),
    ("x in [1, 2]", {"x": 2.0}),
    ("x not in [1, 2]", {"x": 3}),
    ("x in (1, 2)", {"x": 1}),
    ("x in [1, 2]", {"x": [1]}),
    ("'k' in x", {"x": {"k": 1}}),
    ("x in y", {"x": [1], "y": {"a": 1}}),
    ("x == [1, 2]", {"x": [1, 2]}),
    ("x == (1, 2)", {"x": [1, 2]}),
    ("(1, 2) == (1, 2)", {}),
    ("a and b", {"a": 0, "b": "x"}),
    ("a and b", {"a": 1, "b": ""}),
    ("a or b", {"a": [], "b": {}}),
    ("(a or b) == 'x'", {"a": None, "b": "x"}),
    ("not x", {"x": []}),
    ("not x", {"x": {}}),
    ("not x", {"x": "0"}),
    ("not x", {"x": 0.0}),
    ("-x < 0", {"x": 3}),
    ("-x < 0", {"x": True}),
    ("-x", {"x": "a"}),
    ("-x", {"x": None}),
    ("+x == 3", {"x": 3}),
    ("x + 1 > 2", {"x": 2}),
    ("x + 1 > 2", {"x": None}),
    ("x + 'b' == 'ab'", {"x": "a"}),
    ("x + 'a'", {"x": 1}),
    ("x + [2] == [1, 2]", {"x": [1]}),
    ("x + (2,)", {"x": [1]}),
    ("x - 1 == 0", {"x": 1}),
    ("x * 2 == 6", {"x": 3}),
    ("x * 2", {"x": "ab"}),
    ("x / 4 == 2.5", {"x": 10}),
    ("x / y", {"x": 1, "y": 0}),
    ("x / y", {"x": 1, "y": False}),
    ("0.1 + 0.2 == 0.3", {}),
    ("true == 1", {}),
    ("x.y == 1", {"x": {"y": 1}}),
    ("x.y == 1", {"x": {}}),
    ("x.y == 1", {"x": None}),
    ("x.y is defined", {"x": {"y": None}}),
    ("x.y is defined", {"x": {}}),
    ("x.y is none", {"x": {"y": None}}),
    ("x.y is none", {"x": {}}),
    ("x.y == x.z", {"x": {}}),
    ("x.y in [1]", {"x": {}}),
    ("'a' in x.y", {"x": {}}),
    ("x.y < 1", {"x": {}}),
    ("x.y", {"x": {"y": [0]}}),
    ("x is defined", {}),
    ("'overdue' in flags and priority == 'high'", {"flags": ["overdue"], "priority": "high"}),
]


def outcome(source: str, context: dict[str, Any]) -> bool | str:
    try:
        return compile_expression(source).test(context)
    except EvaluationError:
        return "error"


def show_ifs(definition: DefinitionSet) -> list[str]:
    found = []
    for process in definition.processes.values():
        for form in process.forms.values():
            for section in form.sections:
                found += [c.source for c in [section.show_if] if c is not None]
                found += [f.show_if.source for f in section.fields if f.show_if is not None]
    return found


def test_every_show_if_of_the_bundled_sets_can_be_evaluated_in_the_browser(
        default_set: DefinitionSet, example_sets: list[DefinitionSet]) -> None:
    sources = [s for d in [default_set, *example_sets] for s in show_ifs(d)]
    assert sources
    for source in sources:
        tree = client_condition(compile_expression(source))
        assert tree is not None, source
        assert json.loads(json.dumps(tree)) == tree


@pytest.mark.parametrize("source", [
    "x | length > 2", "x[0] == 1", "a if b else c", "x ~ y", "x // 2 == 1", "x % 2 == 0",
    "x.y.z == 1", "x is number", "x is divisibleby 3",
])
def test_what_the_browser_cannot_evaluate_has_no_tree_so_the_server_decides(
        source: str) -> None:
    assert client_condition(compile_expression(source)) is None


def test_a_condition_becomes_a_tree_of_plain_json(default_set: DefinitionSet) -> None:
    tree = client_condition(compile_expression("'compensate' in handling"))
    assert tree == {"op": "compare", "node": {"op": "const", "value": "compensate"},
                    "rest": [["in", {"op": "name", "name": "handling"}]]}


def test_the_browser_evaluator_agrees_with_python_on_every_case(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the browser evaluator cannot be run")
    table = []
    for source, context in CASES:
        tree = client_condition(compile_expression(source))
        assert tree is not None, source
        table.append({"tree": tree, "values": context})
    runner = tmp_path / "run.js"
    runner.write_text(
        "const forms = require(process.argv[2]);\n"
        "const table = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
        "console.log(JSON.stringify(table.map(({tree, values}) => {\n"
        "  try { return forms.test(tree, values); } catch (e) {\n"
        "    if (e.name !== 'EvaluationError') throw e;\n"
        "    return 'error'; }\n"
        "})));\n", encoding="utf-8")
    done = subprocess.run([node, str(runner), str(SCRIPT)], input=json.dumps(table),
                          capture_output=True, text=True, check=True, timeout=60)
    browser = json.loads(done.stdout)
    python = [outcome(source, context) for source, context in CASES]
    disagreements = [(source, context, p, b) for (source, context), p, b
                     in zip(CASES, python, browser, strict=True) if p != b]
    assert disagreements == []
    assert {True, False, "error"} <= set(python)
