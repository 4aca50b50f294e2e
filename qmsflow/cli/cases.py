"""``qmsflow cases``: move open cases to another definition version, void a case."""

from __future__ import annotations

import sys

import click

from .common import acting, friendly, runtime


@click.group("cases")
def cli() -> None:
    """Cases: migrate between definition versions, void."""


def _state_map(pairs: tuple[str, ...]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise click.BadParameter(f"{pair!r}: write OLD_STATE=NEW_STATE", param_hint="--map")
        result[old] = new
    return result


@cli.command("migrate")
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
    plans = service.migrate(from_version, to_version, _state_map(pairs), by=acting(by_user),
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


@cli.command("void")
@click.argument("number")
@click.option("--reason", required=True, help="Why the case is void (kept in the record).")
@click.option("--by", "by_user", required=True, help="User id of who voids it.")
@friendly
def cases_void(number: str, reason: str, by_user: str) -> None:
    """Void case NUMBER: it leaves inboxes and reports and stays readable with its history."""
    runtime().service.void_case(number, by_user, reason, client="cli")
    click.echo(f"{number} voided")
