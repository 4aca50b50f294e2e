"""Problems: distinct problems at one place stay distinct; the same one is reported once."""

from __future__ import annotations

import pytest

from qmsflow.engine.problems import DefinitionError, Problem, with_article


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


@pytest.mark.parametrize(("word", "said"), [
    ("amount", "an amount"), ("integer", "an integer"), ("email", "an email"),
    ("user", "a user"), ("yes/no", "a yes/no"), ("multiple-choice", "a multiple-choice"),
    ("long_text", "a long_text")])
def test_a_word_takes_a_or_an_as_it_is_said(word: str, said: str) -> None:
    assert with_article(word) == said
