"""Problems: distinct problems at one place stay distinct; the same one is reported once."""

from __future__ import annotations

from qmsflow.engine.problems import DefinitionError, Problem


def test_two_problems_at_the_same_place_with_different_messages_are_both_kept() -> None:
    first = Problem("p.yaml", 3, 5, "E201", "$.x", "unknown role 'a'", "did you mean 'b'?")
    second = Problem("p.yaml", 3, 5, "E201", "$.x", "unknown role 'c'")
    error = DefinitionError([first, second, first])
    assert error.problems == (first, second)


def test_problems_sort_by_place_then_wording_even_without_a_hint() -> None:
    late = Problem("p.yaml", 9, 1, "E201", "$", "a")
    early_b = Problem("p.yaml", 1, 1, "E201", "$", "b", "hint")
    early_a = Problem("p.yaml", 1, 1, "E201", "$", "b", None)
    assert sorted([late, early_b, early_a]) == [early_a, early_b, late]
