"""The condition language: what it accepts, what it refuses at load, how it fails at run time."""

from __future__ import annotations

import ast
import contextlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import parser as jinja_parser

from qmsflow.engine.expressions import (
    MAX_LENGTH,
    EvaluationError,
    Expression,
    ExpressionError,
    compile_expression,
    syntax_tree,
    unknown_names,
)

from ..conftest import ROOT


def evaluate(source: str, **context: object) -> object:
    return compile_expression(source).evaluate(context)


# --- what the language evaluates ------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "context", "expected"),
    [
        ("severity == 'high'", {"severity": "high"}, True),
        ("severity != 'high'", {"severity": "high"}, False),
        ("count < 3", {"count": 2}, True),
        ("count <= 2", {"count": 2}, True),
        ("count > 2", {"count": 2}, False),
        ("count >= 2", {"count": 2}, True),
        ("a and not b", {"a": True, "b": False}, True),
        ("a or b", {"a": False, "b": False}, False),
    ],
)
def test_comparisons_and_boolean_operators_give_the_expected_truth(
    source: str, context: dict[str, object], expected: bool
) -> None:
    assert compile_expression(source).test(context) is expected


def test_in_and_not_in_check_membership_of_a_list() -> None:
    assert evaluate("country in ['DE', 'AT']", country="AT") is True
    assert evaluate("country not in ['DE', 'AT']", country="AT") is False
    assert evaluate("'injury' in tags", tags=["injury", "recall"]) is True


def test_a_decimal_amount_compares_with_an_integer_literal() -> None:
    assert compile_expression("amount > 5000").test({"amount": Decimal("6000.50")})
    assert not compile_expression("amount > 5000").test({"amount": Decimal("4999.99")})


def test_dates_compare_in_calendar_order() -> None:
    context = {"received_on": date(2024, 3, 1), "shipped_on": date(2024, 3, 5)}
    assert compile_expression("received_on < shipped_on").test(context)
    assert not compile_expression("received_on > shipped_on").test(context)


def test_attribute_access_reads_an_entry_of_a_mapping() -> None:
    assert evaluate("case.state == 'open'", case={"state": "open"}) is True
    assert evaluate("case.device['lot']", case={"device": {"lot": "L-17"}}) == "L-17"


def test_attribute_access_on_a_mapping_never_returns_its_methods() -> None:
    assert evaluate("case.items", case={"state": "open"}) is None
    assert evaluate("case['keys']", case={"state": "open"}) is None


def test_a_missing_attribute_chain_evaluates_to_none_and_is_not_defined() -> None:
    assert evaluate("case.closed_on.year", case={}) is None
    assert evaluate("case.closed_on is defined", case={}) is False


def test_a_name_missing_from_the_context_evaluates_to_none() -> None:
    assert evaluate("reviewer") is None
    assert evaluate("reviewer is none") is True
    assert compile_expression("reviewer == 'qa'").test({}) is False


def test_allowed_filters_and_tests_work() -> None:
    assert evaluate("tags | length", tags=["a", "b"]) == 2
    assert evaluate("name | trim | upper", name="  ab ") == "AB"
    assert evaluate("amounts | sum", amounts=[Decimal("1.5"), Decimal("2")]) == Decimal("3.5")
    assert evaluate("note | default('none given')") == "none given"
    assert evaluate("case.note | default('-')", case={}) == "-"
    assert evaluate("note | default('-', true)", note="") == "-"
    assert evaluate("note | default('-')", note="") == ""
    assert evaluate("count is divisibleby 3", count=9) is True
    assert evaluate("tags | join(', ')", tags=["a", "b"]) == "a, b"


def test_arithmetic_conditionals_and_constant_subscripts_work() -> None:
    assert evaluate("(a + b) * 2 - 1", a=1, b=2) == 5
    assert evaluate("'big' if amount > 10 else 'small'", amount=11) == "big"
    assert evaluate("items[-1]", items=[1, 2, 3]) == 3
    assert evaluate("items[0:2]", items=[1, 2, 3]) == [1, 2]


# --- what an expression reads ---------------------------------------------------------------


def test_names_are_the_free_variables_the_expression_reads() -> None:
    expression = compile_expression("amount > limit and case.state in states")
    assert expression.names == frozenset({"amount", "limit", "case", "states"})
    assert expression.source == "amount > limit and case.state in states"


def test_compiled_expressions_are_cached_by_source() -> None:
    assert compile_expression("a == 1") is compile_expression("a == 1")


def test_unknown_names_suggest_the_closest_known_name() -> None:
    expression = compile_expression("compensaton_amount > 100 and zzz")
    known = ["compensation_amount", "severity"]
    assert unknown_names(expression, known) == [
        ("compensaton_amount", "compensation_amount"),
        ("zzz", None),
    ]


def test_unknown_names_is_empty_when_every_name_is_known() -> None:
    expression = compile_expression("severity == 'high'")
    assert unknown_names(expression, {"severity"}) == []


# --- what the language refuses when a definition is loaded ----------------------------------

FORBIDDEN = [
    "x.__class__",
    "x.__class__.__mro__",
    "''.__class__.mro()",
    "x['__globals__']",
    "cycler.__init__.__globals__",
    "lipsum",
    "range(10)",
    "dict(a=1)",
    "namespace",
    "self",
    "x.startswith('a')",
    "x | attr('y')",
    "x | map('upper')",
    "x | sum(attribute='__class__')",
    "x is callable",
    "x._private",
    "x.mro",
    "x.subclasses",
    "_hidden",
    "x[y]",
    "x ** 2",
    "{'a': 1}",
    "{{ x }}",
    "{% if x %}y{% endif %}",
    "a = 1",
    "",
    "   ",
    "x or " * 300 + "x",
]


@pytest.mark.parametrize("source", FORBIDDEN)
def test_a_forbidden_construct_is_refused_at_compile_time(source: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source)
    assert caught.value.message


@pytest.mark.parametrize("source", FORBIDDEN)
def test_a_refused_expression_never_reaches_evaluation(
    source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reached: list[str] = []

    def record(self: Expression, context: object) -> object:
        reached.append(self.source)
        return None

    monkeypatch.setattr(Expression, "evaluate", record)
    with pytest.raises(ExpressionError):
        compile_expression(source).test({"x": "a"})
    assert reached == []


def test_a_private_attribute_is_refused_with_a_message_naming_it() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("x.__class__")
    assert caught.value.message == (
        "attribute '__class__' is not allowed: expressions may only read case data"
    )


def test_a_call_is_refused_with_a_hint_to_use_a_filter() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("tags.count()")
    assert "never call" in caught.value.message
    assert caught.value.hint == "use a filter such as `| length`"


def test_a_filter_outside_the_allowlist_is_refused_with_the_allowed_ones_listed() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("tags | lenght")
    assert "'lenght'" in caught.value.message
    assert "length, lower" in caught.value.message
    assert caught.value.hint == "did you mean 'length'?"


def test_a_test_outside_the_allowlist_is_refused() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("x is sameas y")
    assert "test 'sameas' is not allowed" in caught.value.message


def test_template_syntax_is_refused_with_a_hint_to_write_the_bare_expression() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("{{ amount > 5 }}")
    assert "template syntax" in caught.value.message
    assert caught.value.hint is not None


def test_an_empty_expression_is_refused() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("")
    assert caught.value.message == "expression is empty"


def test_an_expression_longer_than_the_limit_is_refused() -> None:
    source = "a == " + "1" * MAX_LENGTH
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source)
    assert "limit is 1000" in caught.value.message


def test_an_expression_at_the_length_limit_is_accepted() -> None:
    source = "a == '" + "x" * (MAX_LENGTH - 7) + "'"
    assert len(source) == MAX_LENGTH
    assert compile_expression(source).names == frozenset({"a"})


@pytest.mark.parametrize(
    "source",
    ["x or " * 199 + "x", "(" * 400 + "x" + ")" * 400, "-" * 999 + "1"],
    ids=["long-or-chain", "deep-brackets", "many-signs"],
)
def test_an_expression_nested_too_deeply_is_refused_rather_than_crashing(source: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source)
    assert caught.value.message == "expression is nested too deeply"


def test_a_realistic_chain_of_conditions_compiles() -> None:
    source = " or ".join(f"code == {n}" for n in range(60))
    assert compile_expression(source).test({"code": 59})


# --- syntax errors --------------------------------------------------------------------------


def test_a_single_equals_sign_is_a_syntax_error_with_a_hint_to_use_double_equals() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("state = 'open'")
    assert "'='" in caught.value.message
    assert caught.value.hint == "use == to compare"


def test_an_incomplete_expression_says_it_ends_too_early() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("amount >")
    assert caught.value.message == "unexpected end of expression"
    assert caught.value.hint is not None


def test_c_style_operators_get_a_hint_to_use_words() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("a && b")
    assert caught.value.hint == "use `and` / `or` to combine conditions"


def test_an_unclosed_quote_is_a_syntax_error() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("state == 'open")
    assert caught.value.hint == "close the quoted text with the same quote it starts with"


def test_the_error_text_includes_the_hint() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("state = 'open'")
    assert str(caught.value).endswith("(use == to compare)")


# --- run-time failures ----------------------------------------------------------------------


def test_comparing_an_empty_field_with_a_number_names_the_expression_and_the_cause() -> None:
    with pytest.raises(EvaluationError) as caught:
        compile_expression("amount > 5000").test({"amount": None})
    assert str(caught.value) == (
        "cannot evaluate 'amount > 5000': "
        "'>' not supported between 'NoneType' and 'int' (is a field empty?)"
    )
    assert isinstance(caught.value.__cause__, TypeError)


def test_division_by_zero_is_an_evaluation_error() -> None:
    with pytest.raises(EvaluationError) as caught:
        evaluate("amount / count", amount=Decimal(10), count=Decimal(0))
    assert str(caught.value) == "cannot evaluate 'amount / count': division by zero"


def test_comparing_a_date_with_a_datetime_is_an_evaluation_error() -> None:
    with pytest.raises(EvaluationError) as caught:
        evaluate("a < b", a=date(2024, 1, 1), b=datetime(2024, 1, 2, 8, 0))
    assert caught.value.source == "a < b"


def test_repeating_text_with_multiplication_is_refused_at_run_time() -> None:
    with pytest.raises(EvaluationError) as caught:
        evaluate("name * 1000000000", name="x")
    assert "not allowed" in caught.value.reason


def test_formatting_text_with_percent_is_refused_at_run_time() -> None:
    with pytest.raises(EvaluationError):
        evaluate("'%999999999d' % n", n=1)


def test_numbers_still_multiply_and_take_remainders() -> None:
    assert evaluate("count * 3 % 4", count=3) == 1


# --- robustness -----------------------------------------------------------------------------


@given(st.text())
def test_compiling_random_text_only_ever_raises_expression_error(source: str) -> None:
    with contextlib.suppress(ExpressionError):
        compile_expression(source)


_TOKENS = [*"abx_ .()[]{}|'\"=!<>+-*/%~,:0123456789"]
_TOKENS += [" and ", " or ", " not ", " in ", " is ", " if ", " else ", "__class__", "length"]


@given(st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join))
def test_compiling_expression_like_text_only_ever_raises_expression_error(source: str) -> None:
    try:
        expression = compile_expression(source)
    except ExpressionError:
        return
    # Whatever compiles must evaluate or fail with EvaluationError, never anything else.
    with contextlib.suppress(EvaluationError):
        expression.evaluate({"a": 1, "b": "t", "x": [1, 2]})


# --- one parser -----------------------------------------------------------------------------


def _second_parsers(path: Path) -> list[str]:
    """What in ``path`` parses the expression language besides engine/expressions.py's parse:
    importing Jinja's parser anywhere else, or a Jinja environment's compile_expression, which
    parses its source again (expressions.compile_expression is only ever called by name)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        if "jinja2.parser" in modules and path != ROOT / "engine" / "expressions.py":
            found.append(f"line {node.lineno}: imports jinja2.parser")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "compile_expression"
                and not (isinstance(node.func.value, ast.Name)
                         and node.func.value.id == "expressions")):
            found.append(f"line {node.lineno}: calls a Jinja environment's compile_expression")
    return found


def test_no_module_but_the_expression_module_parses_conditions() -> None:
    found = {str(path.relative_to(ROOT)): problems
             for folder in ("engine", "forms", "web")
             for path in sorted((ROOT / folder).rglob("*.py"))
             if (problems := _second_parsers(path))}
    assert found == {}


@pytest.mark.parametrize("code", [
    "from jinja2.parser import Parser",
    "from jinja2 import parser",
    "import jinja2.parser",
    "env.compile_expression(source)",
])
def test_the_one_parser_rule_catches_each_way_of_parsing_again(code: str,
                                                              tmp_path: Path) -> None:
    module = tmp_path / "second.py"
    module.write_text(code + "\n", encoding="utf-8")
    assert _second_parsers(module) != []


def test_compiling_a_condition_parses_its_source_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    original = jinja_parser.Parser.__init__

    def counting(self: jinja_parser.Parser, environment: object, source: str,
                 *args: object, **kwargs: object) -> None:
        parsed.append(source)
        original(self, environment, source, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jinja_parser.Parser, "__init__", counting)
    source = "parsed_once_probe > 5000 and case.state == 'open'"  # not in the cache yet
    expression = compile_expression(source)
    assert parsed == [source]
    assert expression.evaluate({"parsed_once_probe": 6000, "case": {"state": "open"}}) is True


def test_each_syntax_tree_is_a_new_tree_so_no_translation_can_spoil_another() -> None:
    source = "amount > 5000 and not closed"
    first, second = syntax_tree(source), syntax_tree(source)
    assert first == second
    assert first is not second
