"""The bad-input corpus: every broken definition reports the right code at the right line.

The corpus lives in ``tests/engine/corpus`` (see its README.md for the conventions): a small
valid base set, and under ``bad/`` one case per file (``NAME.yaml``, written over or added to a
copy of the base) or per folder (``NAME/``, several files laid over the base). Each case states
what it must produce in leading ``# expect:`` comments.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from qmsflow.engine import scenario
from qmsflow.engine.loader import check as check_set
from qmsflow.engine.problems import Problem

CORPUS = Path(__file__).parent / "corpus"
BASE = CORPUS / "base"
BAD = CORPUS / "bad"
README = CORPUS / "README.md"

EXPECT = re.compile(r"^#\s*expect:\s*(?P<code>[A-Z]\d{3})\s+line\s+(?P<line>\d+)"
                    r"(?:\s+file\s+(?P<file>\S+))?(?:\s+saying\s+\"(?P<saying>[^\"]+)\")?\s*$")
NOTHING_ELSE = "# expect nothing else"
FILE_DIRECTIVE = re.compile(r"^#\s*file:\s*(?P<path>\S+)\s*$")
PROBLEM_LINE = re.compile(r"^[^:]+:\d+:\d+: [A-Z]\d{3} \$\S*: .+")

#: Cases where the engine is known to be wrong; each expectation says where it SHOULD point.
KNOWN_BUGS: dict[str, str] = {}


@dataclass(frozen=True)
class Expectation:
    code: str
    line: int
    file: str  # relative to the checked set's folder, '/'-separated
    saying: str | None = None  # text the printed problem must contain

    def __str__(self) -> str:
        said = f" saying {self.saying!r}" if self.saying else ""
        return f"{self.code} at {self.file}:{self.line}{said}"

    def matches(self, problem: Problem, set_folder: Path) -> bool:
        return located(problem, set_folder) == (self.code, self.file, self.line) and (
            self.saying is None or self.saying in str(problem))


@dataclass
class Case:
    name: str
    source: Path
    expectations: list[Expectation] = field(default_factory=list)
    target: str | None = None  # single-file cases: where the file goes in the set
    deletes: list[str] = field(default_factory=list)
    start_empty: bool = False
    check_path: str = "."
    nothing_else: bool = False  # the expectations are all the problems there may be


def _leading_comments(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def _expectations(comments: list[str], default_file: str | None) -> list[Expectation]:
    found = []
    for line in comments:
        match = EXPECT.match(line)
        if match is None:
            assert line == NOTHING_ELSE or not line.lstrip("# ").startswith("expect"), (
                f"malformed expectation: {line}")
            continue
        file = match["file"] or default_file
        assert file is not None, f"{line!r} must name its file"
        found.append(Expectation(match["code"], int(match["line"]), file, match["saying"]))
    return found


def _file_case(path: Path) -> Case:
    comments = _leading_comments(path.read_text(encoding="utf-8"))
    targets = [m["path"] for m in map(FILE_DIRECTIVE.match, comments) if m]
    assert len(targets) == 1, f"{path.name}: say once where the file goes ('# file: PATH')"
    case = Case(path.stem, path, target=targets[0], nothing_else=NOTHING_ELSE in comments)
    case.expectations = _expectations(comments, targets[0])
    return case


def _set_relative(relative: Path) -> str:
    """A case-folder path as the checked set sees it ('@other/x' is '../other/x')."""
    parts = relative.parts
    if parts[0].startswith("@"):
        return "/".join(("..", parts[0][1:], *parts[1:]))
    return relative.as_posix()


def _folder_case(folder: Path) -> Case:
    case = Case(folder.name, folder)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder)
        comments = _leading_comments(path.read_text(encoding="utf-8"))
        case.nothing_else |= NOTHING_ELSE in comments
        if relative == Path("case.txt"):
            case.expectations += _expectations(comments, None)
            for line in path.read_text(encoding="utf-8").splitlines():
                key, _, value = line.partition(":")
                if key == "delete":
                    case.deletes.append(value.strip())
                elif key == "start" and value.strip() == "empty":
                    case.start_empty = True
                elif key == "check":
                    case.check_path = value.strip()
            continue
        case.expectations += _expectations(comments, _set_relative(relative))
    return case


def load_cases() -> list[Case]:
    cases = []
    for path in sorted(BAD.iterdir()):
        if path.is_dir():
            cases.append(_folder_case(path))
        elif path.suffix == ".yaml":
            cases.append(_file_case(path))
    return cases


CASES = load_cases()


def build(case: Case, root: Path) -> Path:
    """Lay out ``root/base`` (pristine) and ``root/set`` (the case); return the path to check."""
    shutil.copytree(BASE, root / "base")
    target = root / "set"
    if case.start_empty:
        target.mkdir()
    else:
        shutil.copytree(BASE, target)
    if case.target is not None:
        destination = target / case.target
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(case.source, destination)
        return target
    for name in case.deletes:
        (target / name).unlink()
    for path in sorted(p for p in case.source.rglob("*") if p.is_file()):
        relative = path.relative_to(case.source)
        if relative == Path("case.txt"):
            continue
        destination = target / _set_relative(relative)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
    return target / case.check_path


def check(path: Path) -> list[Problem]:
    """The problems of a definition set, or of a scenario file (checked without running)."""
    if path.is_file() and path.name != "set.yaml":
        return scenario.check(path)
    return check_set(path)


def located(problem: Problem, set_folder: Path) -> tuple[str, str, int]:
    """A problem's code, file (relative to the set folder) and line."""
    where = Path(problem.file).resolve()
    relative = Path(*(["..", *where.relative_to(set_folder.parent.resolve()).parts]))
    text = relative.as_posix()
    prefix = "../" + set_folder.name + "/"
    return problem.code, text.removeprefix(prefix), problem.line


def _params() -> list[object]:
    params = []
    for case in CASES:
        marks = ()
        if case.name in KNOWN_BUGS:
            marks = (pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[case.name]),)
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


def test_the_base_set_is_valid() -> None:
    assert check(BASE) == []


def test_the_corpus_has_at_least_45_cases_each_with_an_expectation() -> None:
    assert len(CASES) >= 45
    assert [c.name for c in CASES if not c.expectations] == []


def test_every_known_bug_names_a_case() -> None:
    assert set(KNOWN_BUGS) <= {c.name for c in CASES}


@pytest.mark.parametrize("case", _params())
def test_each_bad_case_reports_its_code_at_its_line(case: Case, tmp_path: Path) -> None:
    set_folder = tmp_path / "set"
    problems = check(build(case, tmp_path))
    shown = "\n".join(str(p) for p in problems) or "(no problems)"
    for expected in case.expectations:
        assert any(expected.matches(p, set_folder) for p in problems), (
            f"expected {expected}; the loader reported:\n{shown}")
    if case.nothing_else:
        extra = [str(p) for p in problems
                 if not any(e.matches(p, set_folder) for e in case.expectations)]
        assert extra == [], f"expected nothing but {case.expectations}"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_every_problem_prints_as_one_line_with_file_line_column_code_and_path(
        case: Case, tmp_path: Path) -> None:
    for problem in check(build(case, tmp_path)):
        text = str(problem)
        assert "\n" not in text
        assert PROBLEM_LINE.match(text), text
        assert problem.line >= 1
        assert problem.column >= 1


def readme_codes() -> set[str]:
    """The codes listed under the README's 'Codes the corpus covers' heading."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Codes the corpus covers", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"\b[YESX]\d{3}\b", section))


def test_the_corpus_covers_every_code_listed_in_the_readme() -> None:
    listed = readme_codes()
    assert len(listed) > 40
    covered = {e.code for c in CASES for e in c.expectations}
    assert sorted(listed - covered) == []


#: Problems whose text is not ours to change here, with the reason.
PLAIN_EXCEPTIONS = {
    "E214": "the clock compiler's hint '(put the fallback variant (without 'if') last)'",
    "S005": "schema descriptions used as hints carry their own brackets",
}


def _nested_brackets(text: str) -> bool:
    depth = 0
    for char in text:
        if char in "(（":
            depth += 1
            if depth > 1:
                return True
        elif char in ")）":
            depth = max(0, depth - 1)
    return False


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_every_problem_reads_as_plain_english_without_a_bracket_inside_a_bracket(
        case: Case, tmp_path: Path) -> None:
    for problem in check(build(case, tmp_path)):
        text = str(problem)
        assert not re.search(r"\ba [aeio]\w", text, re.IGNORECASE), text  # not 'a amount'
        if problem.code not in PLAIN_EXCEPTIONS:
            assert not _nested_brackets(text), text
