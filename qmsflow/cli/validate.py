"""``qmsflow validate``: check definition sets, one line per problem, for people, tools and CI.

Exit status: 0 when every set is valid, 1 when one has problems, 2 on a usage error. It imports
neither Flask nor SQLAlchemy, so client repositories' CI jobs stay fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from qmsflow.engine.loader import check, load
from qmsflow.engine.model import DefinitionSet, text
from qmsflow.engine.problems import DefinitionError, Problem
from qmsflow.engine.report_forms import coverage

FORMATS = click.Choice(["text", "json", "github"])


def _github(problem: Problem) -> str:
    # GitHub Actions workflow command: shows the problem as an annotation on the file.
    message = f"{problem.code} {problem.path}: {problem.message}"
    if problem.hint:
        message += f" ({problem.hint})"
    message = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return (f"::error file={problem.file},line={problem.line},col={problem.column},"
            f"title={problem.code}::{message}")


def _print_problems(problems: list[Problem], fmt: str) -> None:
    if fmt == "json":
        return
    for problem in problems:
        click.echo(_github(problem) if fmt == "github" else str(problem))


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True,
              help="text for people, json for tools, github for CI annotations.")
@click.option("--forms", is_flag=True,
              help="Also print how much of each regulator's report form a valid set fills.")
def cli(paths: tuple[Path, ...], fmt: str, forms: bool) -> None:
    """Check definition sets (folders holding set.yaml); default: definitions/*/ here."""
    targets = list(paths) or _default_sets()
    if not targets:
        raise click.UsageError("no definition set given and none found under ./definitions")
    report = []
    failed = False
    for target in targets:
        definition, problems = _checked(target, compiled=forms)
        failed |= bool(problems)
        entry: dict[str, object] = {"set": str(target), "valid": not problems,
                                    "problems": [p.as_dict() for p in problems]}
        report.append(entry)
        _print_problems(problems, fmt)
        if fmt == "text":
            verdict = "valid" if not problems else f"{len(problems)} problem(s)"
            click.echo(f"{target}: {verdict}")
        if definition is not None:
            entry["report_forms"] = _forms(definition, fmt)
    if fmt == "json":
        click.echo(json.dumps({"valid": not failed, "sets": report}, ensure_ascii=False,
                              indent=2))
    sys.exit(1 if failed else 0)


def _checked(target: Path, compiled: bool) -> tuple[DefinitionSet | None, list[Problem]]:
    """The set's problems and, when ``compiled`` is asked for and it has none, the set itself
    (compiled once: the problems are those it was refused for)."""
    if not compiled:
        return None, check(target)
    try:
        return load(target), []
    except DefinitionError as error:
        return None, list(error.problems)


def _forms(definition: DefinitionSet, fmt: str) -> list[dict[str, object]]:
    """Each report form's coverage of a valid set: its fields, the mandatory ones, how many a
    case field fills (an unmapped mandatory field is a problem, E261, so there is none)."""
    found = []
    for form in definition.report_forms.values():
        figures = coverage(form)
        found.append({"form": figures.form, "fields": figures.fields,
                      "mandatory": figures.mandatory, "mapped": figures.mapped,
                      "mandatory_mapped": figures.mandatory_mapped})
        if fmt == "text":
            name = text(figures.label, definition.organisation.locales[-1])
            click.echo(f"  {figures.form} ({name}): {figures.mandatory_mapped} of "
                       f"{figures.mandatory} mandatory fields filled from the case, "
                       f"{figures.mapped} of {figures.fields} fields in all")
    return found


def _default_sets() -> list[Path]:
    root = Path("definitions")
    return sorted(p.parent for p in root.glob("**/set.yaml")) if root.is_dir() else []
