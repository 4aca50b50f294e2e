"""``qmsflow db``: create, upgrade and check the database schema (Alembic)."""

from __future__ import annotations

import click

from qmsflow.engine.persistence import schema, shown_url

from .common import CommandError, friendly, runtime, url


@click.group("db")
def cli() -> None:
    """The database schema (DATABASE_URL, default: SQLite under ./instance)."""


@cli.command("upgrade")
@friendly
def db_upgrade() -> None:
    """Create the schema or upgrade it to the newest migration."""
    schema.upgrade(runtime().engine)
    revision, head = schema.current(runtime().engine)
    click.echo(f"{shown_url(url())}: schema at revision {revision} (newest {head})")


@cli.command("status")
@friendly
def db_status() -> None:
    """Say whether the schema is current."""
    revision, head = schema.current(runtime().engine)
    click.echo(f"{shown_url(url())}: revision {revision or 'none'}, newest {head}")
    if revision != head:
        raise CommandError("the schema is not current: run 'qmsflow db upgrade'")
