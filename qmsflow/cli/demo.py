"""``qmsflow demo``: start afresh if asked, seed demo accounts and cases, print the logins, serve.

The demo data itself is made by :mod:`qmsflow.web.demo` from the definitions and the bundled
scenarios; this module is the command around it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import click

from qmsflow.engine.model import DefinitionSet, text
from qmsflow.engine.occurrences import next_month
from qmsflow.engine.persistence import (
    DatabaseUrlError,
    SchemaUpgradeError,
    overview,
    schedules,
    shown_url,
    utc_now,
)
from qmsflow.web.app import ConfigurationError, create_app
from qmsflow.web.demo.seeding import STANDINGS, DemoSummary, count_cases, seed
from qmsflow.web.runtime import Runtime

from .common import CommandError, friendly, runtime, settings, url


def _width(value: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in value)


def _pad(value: str, width: int) -> str:
    return value + " " * max(0, width - _width(value))


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def print_summary(summary: DemoSummary, definition: DefinitionSet, url: str) -> None:
    """The lines a person needs: what happened, where to go, who to sign in as."""
    if summary.seeded:
        click.echo(f"demo data added in {summary.seconds:.1f} s: {len(summary.users)} "
                   f"accounts, {summary.cases} cases from {summary.replays} scenario replays, "
                   f"{summary.entries} register entries")
        for line in summary.skipped:
            click.echo(f"  skipped {line}")
        for line in summary.stopped:
            click.echo(f"  a replay stopped early at {line}")
        unreached = ", ".join(f"{p}/{s}" for p, s in summary.unreached)
        if unreached:
            click.echo(f"  no bundled scenario reaches: {unreached}")
    else:
        click.echo(f"the demo data is already there ({summary.cases} cases): nothing added "
                   "(start again with 'qmsflow demo --fresh')")
    if summary.standings:
        click.echo("  open cases with deadlines: " + ", ".join(
            f"{summary.standings.get(k, 0)} {k}" for k in STANDINGS))
    click.echo("")
    click.echo(f"open {url} and sign in as one of these demo accounts:")
    rows = [("id", "name", "roles", "password")]
    rows += [(u.id, u.name, ", ".join(u.roles), u.password or "(changed since)")
             for u in summary.users]
    if len(rows) == 1:
        click.echo("  (none: this database holds cases but no demo accounts; use 'qmsflow "
                   "users add', or 'qmsflow demo --fresh' on a database of its own)")
    else:
        for line in _table(rows):
            click.echo(line)
    login = summary.login(definition)
    if login is not None and login.password:
        admin = set(definition.organisation.admin_roles)
        role = next((r for r in login.roles if r in admin), login.roles[0])
        label = text(definition.organisation.roles[role].label, "en")
        what = ("who can see the administration pages" if admin & set(login.roles)
                else "to start with")
        click.echo(f"try: {login.id} / {login.password}, a {label.lower()} {what}")
    click.echo("these are demo accounts with published passwords (hashed with a light argon2 "
               "profile until their first sign-in): never use them for real data")


def _start_afresh(rt_url: str) -> None:
    """Delete a SQLite demo database; any other database must be empty already."""
    if overview.is_sqlite(rt_url):
        base = overview.sqlite_file(rt_url)
        if base is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                base.with_name(base.name + suffix).unlink(missing_ok=True)
        return
    rt = runtime()
    if overview.has_schema(rt.engine) and count_cases(rt):
        raise CommandError(
            f"--fresh deletes only SQLite files; {shown_url(rt_url)} already holds cases: "
            "point DATABASE_URL at an empty database (or drop and re-create this one "
            "yourself)")


def _upcoming(rt: Runtime, page: str) -> None:
    """Say what the schedules open next month, from the demo devices (the scheduled work
    page shows them)."""
    service = rt.service
    if not service.current.schedules:
        return
    first, last = next_month(schedules.local_today(service.current, service.now()))
    planned = schedules.plan(service, first, last)
    click.echo(f"scheduled work in {first:%Y-%m}: {len(planned)} case(s) to open "
               f"({', '.join(sorted({p.key for p in planned})) or 'none'}): see {page}")


@click.command("demo")
@click.option("--fresh", is_flag=True,
              help="Start from an empty database (deletes a SQLite file; refuses others that "
                   "hold cases).")
@click.option("--no-serve", is_flag=True, help="Seed and print the accounts, do not serve.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, help="Port to listen on.")
@friendly
def cli(fresh: bool, no_serve: bool, host: str, port: int) -> None:
    """Fill the database with demo accounts and cases, print the logins and serve.

    Uses the database and definitions of the settings (default: SQLite under ./instance). Cases are
    added only to a database without cases, so running it again adds nothing.
    """
    if settings()["ENV"] == "production":
        raise CommandError("qmsflow demo is refused in production: it adds accounts whose "
                           "passwords are published; use a development instance for the demo")
    database = url()
    try:
        with overview.translated_errors():  # the URL and migration errors, as persistence's
            if fresh:
                _start_afresh(database)
            rt = runtime()
            summary = seed(rt, utc_now())
    except (DatabaseUrlError, SchemaUpgradeError, OSError) as error:
        raise CommandError(f"cannot prepare the demo database {shown_url(database)}: "
                           f"{error}") from None
    print_summary(summary, rt.definition, f"http://{host}:{port}/")
    _upcoming(rt, f"http://{host}:{port}/scheduled")
    if no_serve:
        return
    rt.close()
    try:
        app = create_app()
    except ConfigurationError as error:
        raise CommandError(str(error)) from None
    app.run(host=host, port=port)
