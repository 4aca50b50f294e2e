"""Broken definitions never crash the loader: random edits of the bundled set give problems.

Each example copies ``definitions/default`` to a temporary folder, damages one file's text the
way a hurried editor would (a line deleted, duplicated, swapped or re-indented, stray characters
typed, a value replaced by a YAML trap) and checks that ``check`` and ``qmsflow validate``
answer with problems, never with a traceback.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmsflow.cli import main
from qmsflow.engine.loader import check
from qmsflow.engine.problems import Problem

DEFAULT_SET = Path(__file__).parents[2] / "definitions" / "default"
FILES = sorted(p.relative_to(DEFAULT_SET).as_posix() for p in DEFAULT_SET.rglob("*.yaml"))

#: Values that trip YAML or the schema: booleans in disguise, dates, anchors, tags, nothing.
TRAPS = ["yes", "no", "on", "off", "~", "null", "", "2026-02-30", "2026-01-01", "17:30", "0x1F",
         ".inf", "-1", "1e999", "[]", "{}", "[", "{", "&a", "*a", "*nowhere", "!tag", "!!str",
         "!!binary", "<<", "'", '"', "%", "@", "`", "|", ">", "- x", "? x", "a: b", "#", "\t",
         "__class__", "x.__class__", "range(3)", "{{ x", "{% if %}", "Asia/Nowhere", "CN",
         "😀", "\\u0000", "999999999999999999999999", "id", "kind", "process", "calendar"]
SCALAR = re.compile(r"(?<=: )[^\s{}\[\],#][^\n{}\[\],#]*")
NOISE = st.text(alphabet=st.sampled_from(list(":-?[]{},&*!|>'\"%@`#\t \n<=~.xyz0éé中")),
                min_size=1, max_size=6)

Mutation = Callable[[list[str], st.DataObject], list[str]]


def _index(lines: list[str], data: st.DataObject) -> int:
    return data.draw(st.integers(0, max(len(lines) - 1, 0)), label="line")


def delete_line(lines: list[str], data: st.DataObject) -> list[str]:
    i = _index(lines, data)
    return lines[:i] + lines[i + 1:]


def duplicate_line(lines: list[str], data: st.DataObject) -> list[str]:
    i = _index(lines, data)
    return lines[:i + 1] + lines[i:]


def swap_lines(lines: list[str], data: st.DataObject) -> list[str]:
    i, j = _index(lines, data), _index(lines, data)
    lines = list(lines)
    lines[i], lines[j] = lines[j], lines[i]
    return lines


def insert_characters(lines: list[str], data: st.DataObject) -> list[str]:
    i = _index(lines, data)
    line = lines[i]
    at = data.draw(st.integers(0, len(line)), label="column")
    noise = data.draw(NOISE, label="noise")
    return [*lines[:i], line[:at] + noise + line[at:], *lines[i + 1:]]


def reindent_line(lines: list[str], data: st.DataObject) -> list[str]:
    i = _index(lines, data)
    shift = data.draw(st.sampled_from([-4, -2, -1, 1, 2, 4]), label="shift")
    line = lines[i]
    line = " " * shift + line if shift > 0 else line[min(-shift, len(line) - len(
        line.lstrip(" "))):]
    return [*lines[:i], line, *lines[i + 1:]]


def replace_scalar(lines: list[str], data: st.DataObject) -> list[str]:
    candidates = [(i, m) for i, line in enumerate(lines) for m in SCALAR.finditer(line)]
    if not candidates:
        return lines
    i, match = data.draw(st.sampled_from(candidates), label="scalar")
    value = data.draw(st.sampled_from(TRAPS) | NOISE, label="value")
    line = lines[i]
    return [*lines[:i], line[:match.start()] + value + line[match.end():], *lines[i + 1:]]


MUTATIONS: list[Mutation] = [delete_line, duplicate_line, swap_lines, insert_characters,
                             reindent_line, replace_scalar]


def mutate_copy(data: st.DataObject, folder: Path) -> Path:
    """Copy the default set into ``folder`` and damage one file of it; return the set's path."""
    target = folder / "default"
    shutil.copytree(DEFAULT_SET, target)
    name = data.draw(st.sampled_from(FILES), label="file")
    path = target / name
    lines = path.read_text(encoding="utf-8").split("\n")
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        mutation = data.draw(st.sampled_from(MUTATIONS), label="mutation")
        lines = mutation(lines, data)
    path.write_text("\n".join(lines), encoding="utf-8")
    return target


FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def test_the_bundled_set_is_there_to_mutate() -> None:
    assert "set.yaml" in FILES
    assert any(name.startswith("processes/") for name in FILES)


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_a_mutated_set_yields_problems_never_a_traceback(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        problems = check(mutate_copy(data, Path(tmp)))
    assert isinstance(problems, list)
    for problem in problems:
        assert isinstance(problem, Problem)
        assert problem.line >= 1, str(problem)
        assert problem.column >= 1, str(problem)
        assert problem.message.strip(), repr(problem)
        assert "\n" not in str(problem), str(problem)


@pytest.mark.slow
@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_validate_on_a_mutated_set_exits_0_or_1_never_with_an_exception(
        data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        target = mutate_copy(data, Path(tmp))
        result = CliRunner().invoke(main, ["validate", str(target)])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert "Traceback" not in result.output
