"""``qmsflow users``: accounts (add, disable, set a password, list) and their API tokens."""

from __future__ import annotations

import click

from qmsflow.engine.cases import Actor
from qmsflow.engine.machine import authority_limit
from qmsflow.engine.model import DefinitionSet, text
from qmsflow.engine.persistence import users, utc_now

from .common import CommandError, acting, friendly, password, runtime, settings
from .tokens import cli as token_group


@click.group("users")
def cli() -> None:
    """User accounts: add, disable, set a password, sign out everywhere, list (never
    deleted)."""


@cli.command("add")
@click.argument("user_id")
@click.option("--name", required=True, help="Printed name (shown on signatures).")
@click.option("--role", "roles", multiple=True, required=True, help="A role from the definitions.")
@click.option("--department", "departments", multiple=True)
@click.option("--locale", help="zh-CN, en... (default: the organisation's first).")
@click.option("--email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@friendly
def users_add(user_id: str, name: str, roles: tuple[str, ...], departments: tuple[str, ...],
              locale: str | None, email: str | None, password_stdin: bool) -> None:
    """Add a user."""
    rt = runtime()
    definition = rt.definition
    typed = password(password_stdin)
    with rt.sessions.begin() as session:
        users.add(session, definition, user_id, name, roles, typed, utc_now(),
                  acting(None), departments, locale, email)
    click.echo(f"user {user_id} added with roles {', '.join(roles)}")


@cli.command("disable")
@click.argument("user_id")
@click.option("--reason", required=True)
@friendly
def users_disable(user_id: str, reason: str) -> None:
    """Disable a user: no more sign-in, web sessions end, API tokens stop; the account and
    its history stay."""
    with runtime().sessions.begin() as session:
        users.disable(session, user_id, utc_now(), reason, acting(None))
    click.echo(f"user {user_id} disabled")


@cli.command("set-password")
@click.argument("user_id")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--temporary", is_flag=True,
              help="The user must choose their own password at the next sign-in.")
@friendly
def users_set_password(user_id: str, password_stdin: bool, temporary: bool) -> None:
    """Set a user's password (also unlocks a locked account and ends its web sessions); it
    may not repeat any of the user's last PASSWORD_HISTORY passwords."""
    typed = password(password_stdin)
    with runtime().sessions.begin() as session:
        users.set_password(session, user_id, typed, utc_now(), acting(None),
                           history=int(settings()["PASSWORD_HISTORY"]), temporary=temporary)
    click.echo(f"password of {user_id} set" + (" (temporary)" if temporary else ""))


@cli.command("sign-out")
@click.argument("user_id", required=False)
@click.option("--all", "everyone", is_flag=True,
              help="Every user's web sessions (e.g. after a suspected key leak).")
@friendly
def users_sign_out(user_id: str | None, everyone: bool) -> None:
    """Sign a user out everywhere: every web session of theirs ends (e.g. a lost laptop);
    with --all, every user's."""
    if everyone == (user_id is not None):
        raise CommandError("name one user to sign out, or give --all for every user")
    with runtime().sessions.begin() as session:
        ids = [user.id for user in users.listed(session)] if everyone else [user_id or ""]
        ended = sum(users.sign_out_everywhere(session, each, utc_now(), acting(None))
                    for each in ids)
    who = "every user" if everyone else user_id
    click.echo(f"{who} signed out everywhere ({ended} session{'s' * (ended != 1)} ended)")


@cli.command("list")
@friendly
def users_list() -> None:
    """Every account, disabled ones marked."""
    definition = runtime().definition
    with runtime().sessions() as session:
        listed = users.listed(session)
    now = utc_now()
    for user in listed:
        status = "disabled" if user.disabled else "locked" if user.locked(now) else "active"
        limits = _limits(definition, user.actor)
        click.echo(f"{user.id:<20} {user.name:<20} {status:<9} {','.join(user.roles)}"
                   + (f"  {limits}" if limits else ""))


def _limits(definition: DefinitionSet, actor: Actor) -> str:
    """The user's approval limits (核决权限), as the definitions give them to their roles."""
    shown = []
    for process in definition.processes.values():
        for matrix in process.authorities.values():
            holds, limit = authority_limit(matrix, actor)
            if holds and not matrix.fields:
                # A matrix that reads no amount ranks its tiers: say the highest one held.
                tier = [t for t in matrix.tiers if t.role in actor.roles][-1]
                shown.append(f"{text(matrix.label, 'en')} tier {text(tier.label, 'en') or tier.id}")
            elif holds:
                amount = "no limit" if limit is None else f"up to {limit:,.0f}"
                shown.append(f"{text(matrix.label, 'en')} {amount}")
    return "; ".join(shown)


cli.add_command(token_group)
