"""Problems: distinct problems at one place stay distinct; the same one is reported once."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from qmsflow.cli import main
from qmsflow.engine.problems import (
    DefinitionError,
    Problem,
    noun,
    phrase,
    suggest,
    with_article,
)

from ..conftest import EditSet
from .test_corpus import build, check, load_cases


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


def _chinese(template: str) -> str:
    return {"unknown {what} '{name}'": "未知的{what} '{name}'", "state": "状态",
            "did you mean '{name}'?": "是否想写 '{name}'？"}.get(template, template)


def test_a_phrase_says_its_english_words_and_translates_its_template_and_words() -> None:
    said = phrase("unknown {what} '{name}'", what=noun("state"), name="closed_x")
    assert str(said) == "unknown state 'closed_x'"
    # The kind of thing is translated; the name the author typed stays as typed.
    assert said.render(_chinese) == "未知的状态 'closed_x'"


def test_a_translation_that_does_not_fit_its_parameters_falls_back_to_english() -> None:
    said = phrase("unknown {what} '{name}'", what="state", name="x")
    assert said.render(lambda template: "未知的 {thing}") == "unknown state 'x'"


def test_a_problem_worded_by_phrases_prints_exactly_the_english_words() -> None:
    problem = Problem.of("p.yaml", 3, 5, "E201", "$.x",
                         phrase("unknown {what} '{name}'", what=noun("state"), name="closed_x"),
                         suggest("closed_x", ["closed", "open"]))
    plain = Problem("p.yaml", 3, 5, "E201", "$.x", "unknown state 'closed_x'",
                    "did you mean 'closed'?")
    assert str(problem) == str(plain)
    assert problem.as_dict() == plain.as_dict()
    assert problem == plain and hash(problem) == hash(plain)
    assert problem.said(_chinese) == ("未知的状态 'closed_x'", "是否想写 'closed'？")
    assert plain.said(_chinese) == ("unknown state 'closed_x'", "did you mean 'closed'?")


def test_every_problem_of_the_bad_input_corpus_can_be_said_in_another_language(
        tmp_path: Path) -> None:
    untranslatable = []
    for case in load_cases():
        folder = tmp_path / case.name
        folder.mkdir()
        for problem in check(build(case, folder)):
            if problem.words is None or str(problem.words) != problem.message:
                untranslatable.append(str(problem))
    assert untranslatable == []


def test_validate_speaks_chinese_when_asked_and_english_by_default(edited_set: EditSet) -> None:
    folder = edited_set(("processes/complaint.yaml", "    to: investigation\n",
                         "    to: investigaton\n"))
    said = {}
    for lang in ("zh-CN", None):
        result = CliRunner().invoke(main, ["validate", str(folder),
                                           *(["--lang", lang] if lang else [])])
        assert result.exit_code == 1, result.output
        (said[lang],) = [x for x in result.output.splitlines() if ": E201 " in x]
    assert said["zh-CN"].endswith("未知的状态 'investigaton' (是否想写 'investigation'？)")
    assert said[None].endswith("unknown state 'investigaton' (did you mean 'investigation'?)")
    # Only the words change: the location, code and path are what tools look for.
    assert said["zh-CN"].split(": 未知")[0] == said[None].split(": unknown")[0]


def test_validate_refuses_a_language_it_has_no_messages_in() -> None:
    result = CliRunner().invoke(main, ["validate", "--lang", "fr", "."])
    assert result.exit_code == 2
    assert "no messages in 'fr'; languages: en, zh-CN" in result.output
