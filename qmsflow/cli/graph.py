"""``qmsflow graph``: a process's state machine as Mermaid or DOT."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from qmsflow.engine import graph as graphs
from qmsflow.engine.loader import load
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.problems import DefinitionError


@click.command("graph")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--process", "process_id", required=True, help="Process id, e.g. complaint.")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True)
@click.option("--locale", default=None, help="Locale of the labels (default: the set's first).")
def cli(path: Path, process_id: str, fmt: str, locale: str | None) -> None:
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


def _load_or_exit(path: Path) -> DefinitionSet:
    try:
        return load(path)
    except DefinitionError as error:
        for problem in error.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
