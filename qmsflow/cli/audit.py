"""``qmsflow audit verify``: walk the audit trail's hash chains."""

from __future__ import annotations

import click

from qmsflow.engine.persistence import audit

from .common import CommandError, friendly, runtime


@click.group("audit")
def cli() -> None:
    """The audit trail."""


@cli.command("verify")
@friendly
def audit_verify() -> None:
    """Walk the hash chains; report every break with the entry where it starts."""
    with runtime().sessions() as session:
        count, breaks = audit.verify(session)
    for found in breaks:
        click.echo(f"BROKEN {found}")
    if breaks:
        raise CommandError(f"{count} audit entries checked, {len(breaks)} break(s): the trail "
                           "was altered outside qmsflow")
    click.echo(f"{count} audit entries checked: the chains are intact")
