"""``qmsflow users token``: bearer tokens of integration users for the JSON API.

``add`` prints the token on standard output alone, once (qmsflow keeps only its SHA-256), and
what it is on standard error, so a script can capture it: ``TOKEN=$(qmsflow users token add
...)``.
"""

from __future__ import annotations

import getpass

import click

from qmsflow.engine.persistence import audit, tokens
from qmsflow.engine.persistence.service import utc_now

from .common import friendly, runtime


def _by() -> audit.By:
    return audit.By(None, f"qmsflow CLI ({getpass.getuser()})")


@click.group("token")
def cli() -> None:
    """API tokens: add, revoke, list. A token acts as its user, with the user's roles."""


@cli.command("add")
@click.argument("user_id")
@click.option("--label", required=True, help="What the token is for, e.g. 'website intake'.")
@friendly
def token_add(user_id: str, label: str) -> None:
    """Issue a token for the active user USER_ID; it is shown once."""
    with runtime().sessions.begin() as session:
        row, plain = tokens.issue(session, user_id, label, utc_now(), _by())
    click.echo(f"token {row.id} for {user_id} ({row.label}). It is shown this once and "
               "qmsflow keeps only its SHA-256: store it now.", err=True)
    click.echo(plain)


@cli.command("revoke")
@click.argument("token_id", type=int)
@friendly
def token_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID for good (see 'list' for the ids)."""
    with runtime().sessions.begin() as session:
        row = tokens.revoke(session, token_id, utc_now(), _by())
    click.echo(f"token {row.id} of {row.user_id} ({row.label}) revoked")


@cli.command("list")
@friendly
def token_list() -> None:
    """Every token, revoked ones too: id, user, status, created, last used, label."""
    with runtime().sessions() as session:
        rows = tokens.listed(session)
    for row, user in rows:
        status = ("revoked" if row.revoked_at else "user disabled" if user.disabled
                  else "active")
        used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never used"
        click.echo(f"{row.id:>4}  {row.user_id:<20} {status:<13} "
                   f"{row.created_at:%Y-%m-%d %H:%M}  {used:<16}  {row.label}")
    if not rows:
        click.echo("no tokens: 'qmsflow users token add USER --label LABEL' issues one")
