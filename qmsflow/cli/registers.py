"""``qmsflow registers``: export a register to an Excel workbook, import one from it."""

from __future__ import annotations

from pathlib import Path

import click

from qmsflow.engine.persistence import register_sheets, utc_now

from .common import CommandError, acting, friendly, runtime


@click.group("registers")
def cli() -> None:
    """Registers (customers, devices...) to and from Excel."""


@cli.command("export")
@click.argument("register")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--locale", help="The language of the column headers (default: the "
                               "organisation's first).")
@friendly
def export(register: str, file: Path, locale: str | None) -> None:
    """Write every entry of REGISTER to FILE (.xlsx)."""
    served = runtime()
    definition = served.definition
    chosen = locale or definition.organisation.locales[0]
    if chosen not in definition.organisation.locales:
        raise CommandError(f"unknown locale {chosen!r}: use one of "
                           + ", ".join(definition.organisation.locales))
    with served.sessions() as session:
        data = register_sheets.export(session, definition, register, chosen)
    file.write_bytes(data)
    click.echo(f"wrote {file}")


@cli.command("import")
@click.argument("register")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", "user_id", help="The user the audit trail names (default: the CLI).")
@friendly
def import_(register: str, file: Path, user_id: str | None) -> None:
    """Import FILE (.xlsx) into REGISTER: a row whose key exists changes that entry, others
    are registered. Any bad row: each is listed, nothing is imported, exit 1."""
    served = runtime()
    by = acting(user_id)
    with served.sessions.begin() as session:
        done = register_sheets.import_sheet(session, served.definition, register,
                                            file.read_bytes(), utc_now(), by, "cli")
    click.echo(f"{done.created} registered, {done.changed} changed")
