"""``qmsflow simulate``: run scenario files through the engine and check every expectation."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from qmsflow.engine.scenario import run


@click.command("simulate")
@click.argument("scenarios", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--quiet", "-q", is_flag=True, help="Print failures and the summary only.")
def cli(scenarios: tuple[Path, ...], quiet: bool) -> None:
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
