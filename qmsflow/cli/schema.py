"""``qmsflow schema export``: write the JSON Schemas of the definition files (for editors)."""

from __future__ import annotations

from pathlib import Path

import click

from qmsflow.engine.schemas import schema_texts


@click.group("schema")
def cli() -> None:
    """JSON Schemas of the definition files."""


@cli.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schema_export(directory: Path) -> None:
    """Write every JSON Schema into DIRECTORY (for editors and other validators)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(schema_texts().items()):
        (directory / name).write_text(text, encoding="utf-8")
        click.echo(directory / name)
