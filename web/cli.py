"""The ``qmsflow`` command: one entry point for every job.

Exit status: 0 when all is well, 1 when a definition or scenario has problems, 2 on a usage
error (Click's convention). Problems print one per line as ``file:line:column: CODE path:
message (hint)``, never as a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from qmsflow.engine import graph as graphs
from qmsflow.engine.loader import check, load
from qmsflow.engine.problems import DefinitionError, Problem
from qmsflow.engine.scenario import run
from qmsflow.engine.schemas import schema_texts
from qmsflow.web.admin_cli import COMMANDS, users_group
from qmsflow.web.api.cli import token
from qmsflow.web.demo import demo
from qmsflow.web.report_cli import report
from qmsflow.web.serve_cli import serve
from qmsflow.web.sweep_cli import sweep_command
from qmsflow.web.worker_cli import COMMANDS as WORKER_COMMANDS

FORMATS = click.Choice(["text", "json", "github"])


@click.group()
@click.version_option(package_name="qmsflow")
def main() -> None:
    """qmsflow: configurable workflows for medical-device complaints and service."""


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


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True,
              help="text for people, json for tools, github for CI annotations.")
def validate(paths: tuple[Path, ...], fmt: str) -> None:
    """Check definition sets (folders holding set.yaml); default: definitions/*/ here."""
    targets = list(paths) or _default_sets()
    if not targets:
        raise click.UsageError("no definition set given and none found under ./definitions")
    report = []
    failed = False
    for target in targets:
        problems = check(target)
        failed |= bool(problems)
        report.append({"set": str(target), "valid": not problems,
                       "problems": [p.as_dict() for p in problems]})
        _print_problems(problems, fmt)
        if fmt == "text":
            verdict = "valid" if not problems else f"{len(problems)} problem(s)"
            click.echo(f"{target}: {verdict}")
    if fmt == "json":
        click.echo(json.dumps({"valid": not failed, "sets": report}, ensure_ascii=False,
                              indent=2))
    sys.exit(1 if failed else 0)


def _default_sets() -> list[Path]:
    root = Path("definitions")
    return sorted(p.parent for p in root.glob("**/set.yaml")) if root.is_dir() else []


@main.group()
def schema() -> None:
    """JSON Schemas of the definition files."""


@schema.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schema_export(directory: Path) -> None:
    """Write every JSON Schema into DIRECTORY (for editors and other validators)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(schema_texts().items()):
        (directory / name).write_text(text, encoding="utf-8")
        click.echo(directory / name)


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--process", "process_id", required=True, help="Process id, e.g. complaint.")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True)
@click.option("--locale", default=None, help="Locale of the labels (default: the set's first).")
def graph(path: Path, process_id: str, fmt: str, locale: str | None) -> None:
    """Print a process's state machine as Mermaid or DOT, with roles on transitions."""
    definition = _load_or_exit(path)
    if process_id not in definition.processes:
        known = ", ".join(sorted(definition.processes))
        raise click.BadParameter(f"no process {process_id!r} (known: {known})",
                                 param_hint="--process")
    process = definition.processes[process_id]
    shown = locale or definition.organisation.locales[0]
    click.echo(graphs.mermaid(process, shown) if fmt == "mermaid" else graphs.dot(process, shown),
               nl=False)


@main.command()
@click.argument("scenarios", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--quiet", "-q", is_flag=True, help="Print failures and the summary only.")
def simulate(scenarios: tuple[Path, ...], quiet: bool) -> None:
    """Run scenario files (or folders of them) and check every expectation."""
    files = sorted(f for s in scenarios for f in ([s] if s.is_file() else s.glob("**/*.yaml")))
    failed = 0
    for file in files:
        result = run(file)
        for problem in result.problems:
            click.echo(str(problem))
        status = "ok" if result.ok else "FAILED"
        click.echo(f"{status}  {result.file}: {result.title}")
        for step in result.steps:
            if step.ok and quiet:
                continue
            mark = "  ok " if step.ok else "  !! "
            click.echo(f"{mark}step {step.index} (line {step.line}) {step.summary}")
            for failure in step.failures:
                click.echo(f"       {failure}")
        failed += not result.ok
    click.echo(f"{len(files) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def _load_or_exit(path: Path):  # type: ignore[no-untyped-def]
    try:
        return load(path)
    except DefinitionError as error:
        for problem in error.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)


for _command in (*COMMANDS, *WORKER_COMMANDS, sweep_command, serve, demo):
    main.add_command(_command)
users_group.add_command(token)
main.add_command(report)
