"""Conditions run as plain Python give what Jinja's template gives, value for value and error
for error, over every condition of the bundled, example and bench definitions."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from jinja2 import nodes

from qmsflow.engine.expressions import EvaluationError, Expression, compile_expression, syntax_tree
from qmsflow.engine.loader import load

from ..conftest import DEFAULT_SET, EXAMPLE_SETS, ROOT

SETS = [DEFAULT_SET, *EXAMPLE_SETS, ROOT / "bench" / "flows" / "spiff_complaint"]


def expressions_in(value: Any, seen: set[int]) -> Iterator[Expression]:
    """Every Expression reachable from a compiled definition set."""
    if id(value) in seen or isinstance(value, str | int | float | Decimal | date | None):
        return
    seen.add(id(value))
    if isinstance(value, Expression):
        yield value
    elif dataclasses.is_dataclass(value):
        for item in dataclasses.fields(value):
            yield from expressions_in(getattr(value, item.name), seen)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from expressions_in(item, seen)
    elif isinstance(value, list | tuple | frozenset | set):
        for item in value:
            yield from expressions_in(item, seen)


def all_conditions() -> list[Expression]:
    found: dict[str, Expression] = {}
    for path in SETS:
        for expression in expressions_in(load(path), set()):
            found[expression.source] = expression
    return [found[source] for source in sorted(found)]


CONDITIONS = all_conditions()

MOMENT = datetime(2026, 10, 9, 9, 30, tzinfo=UTC)
POOL: list[object] = [
    None, True, False, 0, 1, -3, 5000, 50001, 2.5, Decimal("0"), Decimal("12.50"),
    Decimal("100000"), "", "x", "domestic", "international", "death", "high", [], ["a", "b"],
    ("malfunction",), date(2026, 10, 1), MOMENT,
    {"status": "running", "due_at": MOMENT, "variant": "standard", "breached": False},
    {"closure": {"status": "breached", "due_at": MOMENT}},
    [{"relation": "follow_up_of", "process": "complaint", "number": "KS-1"}],
]


def constants(expression: Expression) -> list[object]:
    """The literals a condition compares with, so that random values also hit them."""
    return [node.value for node in syntax_tree(expression.source).find_all(nodes.Const)]


def outcome(expression: Expression, values: Mapping[str, object]) -> tuple[str, str]:
    try:
        result = expression.evaluate(values)
    except EvaluationError as error:
        return "error", error.reason
    return type(result).__name__, repr(result)


def test_most_conditions_of_the_bundled_definitions_run_as_python() -> None:
    translated = [e for e in CONDITIONS if e._python is not None]
    assert len(CONDITIONS) > 50
    assert len(translated) > 0.8 * len(CONDITIONS)


@pytest.mark.parametrize("expression", CONDITIONS, ids=lambda e: e.source[:60])
def test_a_condition_as_python_gives_what_its_template_gives(expression: Expression) -> None:
    template_only = dataclasses.replace(expression, _python=None)
    rng = random.Random(expression.source)
    pool = POOL + constants(expression)
    names = sorted(expression.names)
    for _ in range(60):
        values = {name: rng.choice(pool) for name in names}
        assert outcome(expression, values) == outcome(template_only, values), values


@pytest.mark.parametrize(("source", "values"), [
    ("amount * 2 > 10", {"amount": Decimal("6")}),
    ("name * 3", {"name": "ab"}),  # refused by the sandbox in both
    ("label % 1", {"label": "%s"}),
    ("a / b", {"a": 1, "b": 0}),
    ("a.b.c == none", {"a": {}}),
    ("a['b'] > 1", {"a": {"b": None}}),
    ("a[0] if a else 'none'", {"a": []}),
    ("x < 3", {"x": "text"}),
    ("-x", {"x": None}),
    ("a.items", {"a": {"k": 1}}),
    ("a.upper", {"a": "text"}),
    ("items | length > 1", {"items": [1, 2]}),
    ("items | length > 1", {"items": None}),
    ("note | default('none given')", {"note": None}),
    ("a is none and b is not none", {"a": None, "b": 1}),
    ("a is defined", {"a": {}}),
    ("a.b is defined", {"a": {}}),
    ("a is divisibleby 3", {"a": 9}),
    ("a | lower == 'x'", {"a": 5}),
])
def test_edge_cases_give_the_same_value_or_error_both_ways(source: str,
                                                           values: dict[str, Any]) -> None:
    expression = compile_expression(source)
    assert expression._python is not None
    template_only = dataclasses.replace(expression, _python=None)
    assert outcome(expression, values) == outcome(template_only, values)


def test_a_filter_that_takes_the_environment_keeps_its_template() -> None:
    expression = compile_expression("items | sum > 1")
    assert expression._python is None
    assert expression.evaluate({"items": [1, 2]}) is True
