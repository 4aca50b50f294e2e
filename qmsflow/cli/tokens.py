"""``qmsflow users token``: bearer tokens of integration users for the JSON API.

``add`` prints the token on standard output alone, once (qmsflow keeps only its SHA-256), and
what it is on standard error, so a script can capture it: ``TOKEN=$(qmsflow users token add
...)``.
"""

from __future__ import annotations

import getpass

import click

from qmsflow.engine.persistence import audit, tokens, utc_now

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
        token, plain = tokens.issue(session, user_id, label, utc_now(), _by())
    click.echo(f"token {token.id} for {user_id} ({token.label}). It is shown this once and "
               "qmsflow keeps only its SHA-256: store it now.", err=True)
    click.echo(plain)


@cli.command("revoke")
@click.argument("token_id", type=int)
@friendly
def token_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID for good (see 'list' for the ids)."""
    with runtime().sessions.begin() as session:
        token = tokens.revoke(session, token_id, utc_now(), _by())
    click.echo(f"token {token.id} of {token.user_id} ({token.label}) revoked")


@cli.command("list")
@friendly
def token_list() -> None:
    """Every token, revoked ones too: id, user, status, created, last used, label."""
    with runtime().sessions() as session:
        listed = tokens.listed(session)
    for token, user in listed:
        status = ("revoked" if token.revoked_at else "user disabled" if user.disabled
                  else "active")
        used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never used"
        click.echo(f"{token.id:>4}  {token.user_id:<20} {status:<13} "
                   f"{token.created_at:%Y-%m-%d %H:%M}  {used:<16}  {token.label}")
    if not listed:
        click.echo("no tokens: 'qmsflow users token add USER --label LABEL' issues one")
