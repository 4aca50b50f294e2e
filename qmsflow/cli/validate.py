"""``qmsflow validate``: check definition sets, one line per problem, for people, tools and CI.

Exit status: 0 when every set is valid, 1 when one has problems, 2 on a usage error. It imports
neither Flask nor SQLAlchemy, so client repositories' CI jobs stay fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click
from babel import Locale, UnknownLocaleError
from babel.support import NullTranslations, Translations

from qmsflow.engine.loader import check, load
from qmsflow.engine.model import DefinitionSet, text
from qmsflow.engine.problems import DefinitionError, Problem
from qmsflow.engine.report_forms import coverage

FORMATS = click.Choice(["text", "json", "github"])
#: The web application's message catalogues: the same translations as the editor shows.
CATALOGUES = Path(__file__).resolve().parent.parent / "web" / "translations"
Translate = Callable[[str], str]


def _english(template: str) -> str:
    return template


def _translator(tag: str) -> Translate:
    """The catalogue of BCP 47 ``tag`` (``zh-CN``); English needs none."""
    if tag.lower() in ("en", "en-us", "en-gb"):
        return _english
    try:
        folder = str(Locale.parse(tag, sep="-"))
    except (ValueError, UnknownLocaleError):
        folder = ""
    found = Translations.load(str(CATALOGUES), [folder]) if folder else NullTranslations()
    if not isinstance(found, Translations):
        offered = sorted(p.name for p in CATALOGUES.iterdir() if p.is_dir()) \
            if CATALOGUES.is_dir() else []
        raise click.BadParameter(
            f"no messages in {tag!r}; languages: en, "
            + ", ".join(_tag(Locale.parse(name)) for name in offered)
            if offered else f"no messages in {tag!r}; only en", param_hint="--lang")
    return found.gettext


def _tag(locale: Locale) -> str:
    return "-".join(part for part in (locale.language, locale.territory) if part)


def _line(problem: Problem, translate: Translate) -> str:
    if translate is _english:
        return str(problem)
    message, hint = problem.said(translate)
    text = f"{problem.file}:{problem.line}:{problem.column}: {problem.code} {problem.path}: "
    return text + message + (f" ({hint})" if hint else "")


def _github(problem: Problem, translate: Translate = _english) -> str:
    # GitHub Actions workflow command: shows the problem as an annotation on the file.
    said, hint = problem.said(translate)
    message = f"{problem.code} {problem.path}: {said}"
    if hint:
        message += f" ({hint})"
    message = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return (f"::error file={problem.file},line={problem.line},col={problem.column},"
            f"title={problem.code}::{message}")


def _print_problems(problems: list[Problem], fmt: str, translate: Translate) -> None:
    if fmt == "json":
        return
    for problem in problems:
        click.echo(_github(problem, translate) if fmt == "github" else _line(problem, translate))


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True,
              help="text for people, json for tools, github for CI annotations.")
@click.option("--forms", is_flag=True,
              help="Also print how much of each regulator's report form a valid set fills.")
@click.option("--lang", default="en", show_default=True, metavar="TAG",
              help="Language of the messages and hints for people, e.g. zh-CN "
                   "(json stays English: tools match on it).")
def cli(paths: tuple[Path, ...], fmt: str, forms: bool, lang: str) -> None:
    """Check definition sets (folders holding set.yaml); default: definitions/*/ here."""
    translate = _translator(lang)
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
        _print_problems(problems, fmt, translate)
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
