"""Commands that work on the database: schema, definition versions, cases, users, audit trail.

The database comes from ``DATABASE_URL`` (default: SQLite under ``./instance``), the definition
set this deployment serves from ``QMSFLOW_DEFINITIONS`` (default ``definitions/default``).
Errors print one line saying what is wrong and what to do, never a traceback.
"""

from __future__ import annotations

import functools
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from qmsflow.engine import diff as diffs
from qmsflow.engine.cases import Actor
from qmsflow.engine.loader import load
from qmsflow.engine.machine import Refused, authority_limit
from qmsflow.engine.model import DefinitionSet, text
from qmsflow.engine.persistence import audit, schema, users, versions
from qmsflow.engine.persistence.db import (
    DatabaseError,
    database_url,
    explain,
    shown_url,
)
from qmsflow.engine.persistence.service import CaseService, NotFound, utc_now
from qmsflow.engine.persistence.store import Conflict
from qmsflow.engine.problems import DefinitionError

from .runtime import DEFAULT_DEFINITIONS, Runtime

P = ParamSpec("P")
R = TypeVar("R")


class CommandError(click.ClickException):
    """A failure the person at the terminal can fix; printed as one line, exit status 1."""


def friendly(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors users can cause into one clear line each."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (users.UserError, Refused, NotFound, Conflict, versions.UnknownVersion) as error:
            raise CommandError(str(error)) from None
        except DefinitionError as error:
            raise CommandError("the definition set has problems:\n" + "\n".join(
                str(p) for p in error.problems)) from None
        except DatabaseError as error:
            message = explain(error)
            if "qmsflow db upgrade" in message:
                raise CommandError(message) from None
            raise CommandError(f"cannot use the database {_shown_url()}: {message} (check "
                               "DATABASE_URL)") from None

    return wrapper


def _shown_url() -> str:
    return shown_url(database_url())


def runtime() -> Runtime:
    """The runtime of the running command: made on first use, closed when the command ends."""
    root = click.get_current_context().find_root()
    found = root.meta.get("qmsflow.runtime")
    if isinstance(found, Runtime):
        return found
    made = Runtime(None, os.environ.get("QMSFLOW_DEFINITIONS", DEFAULT_DEFINITIONS))
    root.call_on_close(made.close)
    root.meta["qmsflow.runtime"] = made
    return made


def _cli_by(user_id: str | None) -> audit.By:
    if user_id is None:
        return audit.By(None, f"qmsflow CLI ({getpass.getuser()})")
    with runtime().sessions() as session:
        user = users.get(session, user_id)
        return audit.By(user.id, user.name)


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


# -- db --------------------------------------------------------------------------------------

@click.group()
def db() -> None:
    """The database schema (DATABASE_URL, default: SQLite under ./instance)."""


@db.command("upgrade")
@friendly
def db_upgrade() -> None:
    """Create the schema or upgrade it to the newest migration."""
    schema.upgrade(runtime().engine)
    revision, head = schema.current(runtime().engine)
    click.echo(f"{_shown_url()}: schema at revision {revision} (newest {head})")


@db.command("status")
@friendly
def db_status() -> None:
    """Say whether the schema is current."""
    revision, head = schema.current(runtime().engine)
    click.echo(f"{_shown_url()}: revision {revision or 'none'}, newest {head}")
    if revision != head:
        raise CommandError("the schema is not current: run 'qmsflow db upgrade'")


# -- definitions -----------------------------------------------------------------------------

@click.group()
def definitions() -> None:
    """Definition versions: publish, list, compare."""


@definitions.command("publish")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--by", "by_user", help="User id of the publisher (for the audit trail).")
@click.option("--note", help="Why this version (change request, CAPA number...).")
@friendly
def definitions_publish(path: Path, by_user: str | None, note: str | None) -> None:
    """Validate the set at PATH and store it as a new definition version."""
    definition = load(path)
    by = _cli_by(by_user)
    with runtime().sessions.begin() as session:
        new = versions.store(session, definition, path, utc_now(), by, note)
    state = "published" if new else "already published"
    click.echo(f"{definition.id} version {definition.version[:12]} {state}")


@definitions.command("list")
@friendly
def definitions_list() -> None:
    """Every stored version with the number of open cases on it."""
    with runtime().sessions() as session:
        counts = versions.open_counts(session)
        for row in versions.listed(session):
            click.echo(f"{row.hash[:12]}  {row.set_id:<16} {row.published_at:%Y-%m-%d %H:%M} "
                       f"UTC  {counts.get(row.hash, 0)} open case(s)  {row.note or ''}".rstrip())


def _resolve(session: Any, store: versions.Versions, ref: str) -> DefinitionSet:
    """A definition from a folder path or a stored version (hash or prefix)."""
    if Path(ref).exists():
        return load(ref)
    return store.get(session, ref)


@definitions.command("diff")
@click.argument("old")
@click.argument("new")
@friendly
def definitions_diff(old: str, new: str) -> None:
    """What changed from OLD to NEW (folders or stored versions), and how many open cases'
    due times would move."""
    store = versions.Versions()
    with runtime().sessions() as session:
        before, after = _resolve(session, store, old), _resolve(session, store, new)
    changes = diffs.diff(before, after)
    for change in changes:
        click.echo(f"{change.kind:<8} {change.words}")
    click.echo(f"{len(changes)} change(s)")
    if diffs.deadline_changes(before, after):
        _report_moves(before, after)


def _report_moves(before: DefinitionSet, after: DefinitionSet) -> None:
    rt = runtime()
    store = versions.Versions()
    store.remember(before)
    store.remember(after)
    try:
        service = CaseService(rt.sessions, store, before)
        plans = service.migrate(before.version, after.version, dry_run=True)
    except (DatabaseError, versions.UnknownVersion):
        click.echo("deadlines change; no database with cases of the old version to measure "
                   "how many due times would move")
        return
    moved = [p for p in plans if p.moves]
    shifts = [m.shift for p in moved for m in p.moves]
    if not shifts:
        click.echo(f"deadlines change; none of the {len(plans)} open case(s) on "
                   f"{before.version[:12]} would get another due time")
        return
    click.echo(f"deadlines change: {len(moved)} of {len(plans)} open case(s) on "
               f"{before.version[:12]} would get another due time, moving by "
               f"{_span(min(shifts))} to {_span(max(shifts))}")


def _span(delta: Any) -> str:
    hours = delta.total_seconds() / 3600
    sign = "-" if hours < 0 else "+"
    hours = abs(hours)
    return f"{sign}{hours / 24:.1f} days" if hours >= 48 else f"{sign}{hours:.1f} hours"


# -- cases -----------------------------------------------------------------------------------

@click.group()
def cases() -> None:
    """Cases: migrate between definition versions, void."""


def _state_map(pairs: tuple[str, ...]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise click.BadParameter(f"{pair!r}: write OLD_STATE=NEW_STATE", param_hint="--map")
        result[old] = new
    return result


@cases.command("migrate")
@click.option("--from", "from_version", required=True, help="Version the cases run on now.")
@click.option("--to", "to_version", required=True, help="Version to move them to.")
@click.option("--map", "pairs", multiple=True, help="OLD_STATE=NEW_STATE, for renamed states.")
@click.option("--by", "by_user", help="User id of who migrates (for the audit trail).")
@click.option("--dry-run", is_flag=True, help="Only say what would happen.")
@friendly
def cases_migrate(from_version: str, to_version: str, pairs: tuple[str, ...],
                  by_user: str | None, dry_run: bool) -> None:
    """Move open cases from one definition version to another; cases that do not fit stay,
    listed with the reasons."""
    service = runtime().service
    plans = service.migrate(from_version, to_version, _state_map(pairs), by=_cli_by(by_user),
                            dry_run=dry_run, client="cli")
    refused = [p for p in plans if p.case is None]
    verb = "would move" if dry_run else "moved"
    for p in plans:
        if p.case is None:
            click.echo(f"refused  {p.number}: " + "; ".join(p.reasons))
        else:
            moves = ", ".join(f"{m.clock} due {m.old_due:%Y-%m-%d %H:%M} -> "
                              f"{m.new_due:%Y-%m-%d %H:%M} UTC" for m in p.moves)
            click.echo(f"{verb:<8} {p.number}" + (f" ({moves})" if moves else ""))
    click.echo(f"{len(plans) - len(refused)} case(s) {verb}, {len(refused)} refused")
    if refused:
        sys.exit(1)


@cases.command("void")
@click.argument("number")
@click.option("--reason", required=True, help="Why the case is void (kept in the record).")
@click.option("--by", "by_user", required=True, help="User id of who voids it.")
@friendly
def cases_void(number: str, reason: str, by_user: str) -> None:
    """Void case NUMBER: it leaves inboxes and reports and stays readable with its history."""
    runtime().service.void_case(number, by_user, reason, client="cli")
    click.echo(f"{number} voided")


# -- users -----------------------------------------------------------------------------------

@click.group("users")
def users_group() -> None:
    """User accounts: add, disable, set a password, list (never deleted)."""


@users_group.command("add")
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
    password = _password(password_stdin)
    with rt.sessions.begin() as session:
        users.add(session, definition, user_id, name, roles, password, utc_now(),
                  _cli_by(None), departments, locale, email)
    click.echo(f"user {user_id} added with roles {', '.join(roles)}")


@users_group.command("disable")
@click.argument("user_id")
@click.option("--reason", required=True)
@friendly
def users_disable(user_id: str, reason: str) -> None:
    """Disable a user: no more sign-in; the account and its history stay."""
    with runtime().sessions.begin() as session:
        users.disable(session, user_id, utc_now(), reason, _cli_by(None))
    click.echo(f"user {user_id} disabled")


@users_group.command("set-password")
@click.argument("user_id")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@friendly
def users_set_password(user_id: str, password_stdin: bool) -> None:
    """Set a user's password (also unlocks a locked account)."""
    password = _password(password_stdin)
    with runtime().sessions.begin() as session:
        users.set_password(session, user_id, password, utc_now(), _cli_by(None))
    click.echo(f"password of {user_id} set")


@users_group.command("list")
@friendly
def users_list() -> None:
    """Every account, disabled ones marked."""
    definition = runtime().definition
    with runtime().sessions() as session:
        for user in users.listed(session):
            status = "disabled" if user.disabled else (
                "locked" if user.locked_until and user.locked_until > utc_now() else "active")
            limits = _limits(definition, users.actor(user))
            click.echo(f"{user.id:<20} {user.name:<20} {status:<9} {','.join(user.roles)}"
                       + (f"  {limits}" if limits else ""))


def _limits(definition: DefinitionSet, actor: Actor) -> str:
    """The user's approval limits (核决权限), as the definitions give them to their roles."""
    shown = []
    for process in definition.processes.values():
        for matrix in process.authorities.values():
            holds, limit = authority_limit(matrix, actor)
            if holds:
                amount = "no limit" if limit is None else f"up to {limit:,.0f}"
                shown.append(f"{text(matrix.label, 'en')} {amount}")
    return "; ".join(shown)


# -- audit -----------------------------------------------------------------------------------

@click.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("verify")
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


COMMANDS = (db, definitions, cases, users_group, audit_group)
