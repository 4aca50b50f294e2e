"""``qmsflow retention``: records past retention, legal holds, and signed disposal."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime

import click

from qmsflow.engine.persistence import retention

from .common import CommandError, friendly, runtime

WHAT = click.argument("what", metavar="WHAT")
REF = click.argument("ref", metavar="REF")
BY = click.option("--by", "user_id", required=True,
                  help="The user who decides (needs a role the retention rule names).")
REASON = click.option("--reason", required=True, help="Why: recorded in the audit trail.")


@click.group("retention")
def cli() -> None:
    """Records past retention; legal holds; signed disposal.

    WHAT is 'case' (REF a case number) or a register id (REF an entry's key)."""


@cli.command("list")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--on", "day", type=click.DateTime(["%Y-%m-%d"]),
              help="List as on this day (YYYY-MM-DD; default: today).")
@click.option("--disposed", is_flag=True, help="Also list the records disposed of already.")
@friendly
def list_(output: str, day: datetime | None, disposed: bool) -> None:
    """Every record past retention: what, which rule, the last day it was kept, held or not."""
    served = runtime()
    definition = served.definition
    today = day.date() if day is not None else retention.today_of(definition,
                                                                  served.service.now())
    with served.sessions() as session:
        found = [state for state in retention.states(session, definition, today)
                 if disposed or not state.disposed]
    if output == "json":
        click.echo(json.dumps([{
            "kind": state.kind, "of": state.owner, "ref": state.ref, "title": state.title,
            "rule": state.rule, "kept_until": _day(state.kept_until), "how": state.how,
            "status": _status(state), "hold_reason": state.hold_reason,
        } for state in found], ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo(f"no record is past retention on {today.isoformat()}")
        return
    for state in found:
        where = (f"case {state.ref} ({state.owner})" if state.kind == retention.CASE
                 else f"{state.kind} '{state.ref}'" + (f" {state.title}" if state.title else ""))
        held = f": {state.hold_reason}" if state.held else ""
        click.echo(f"{where}: kept until {_day(state.kept_until)}, {_status(state)}{held}"
                   f"\n    {state.how}  [rule: {state.rule}]")
    click.echo(f"{len(found)} past retention on {today.isoformat()}")


def _day(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _status(state: retention.RecordState) -> str:
    return "disposed" if state.disposed else "held" if state.held else "disposable"


def _act(action: str, what: str, ref: str, user_id: str, reason: str,
         password: str | None = None) -> retention.RecordState:
    served = runtime()
    try:
        return retention.act(served.service, action, what, ref, user_id, reason,
                             password=password, client="cli")
    except retention.RetentionRefused as refused:
        raise CommandError(f"refused: {refused}") from None


@cli.command("hold")
@WHAT
@REF
@BY
@REASON
@friendly
def hold(what: str, ref: str, user_id: str, reason: str) -> None:
    """Put a record under legal hold: it is never disposed of while held."""
    _act("hold", what, ref, user_id, reason)
    click.echo(f"{what} {ref} is under legal hold")


@cli.command("release")
@WHAT
@REF
@BY
@REASON
@friendly
def release(what: str, ref: str, user_id: str, reason: str) -> None:
    """Release a record's legal hold."""
    _act("release", what, ref, user_id, reason)
    click.echo(f"{what} {ref}: legal hold released")


@cli.command("dispose")
@WHAT
@REF
@BY
@REASON
@click.option("--password-stdin", is_flag=True,
              help="Read the signer's password from standard input instead of a prompt.")
@friendly
def dispose(what: str, ref: str, user_id: str, reason: str, password_stdin: bool) -> None:
    """Dispose of a record past retention and not held, signed with the user's password:
    its content is erased, its audit trail kept with the signed decision."""
    password = (sys.stdin.readline().rstrip("\n") if password_stdin
                else str(click.prompt(f"Password of {user_id} (electronic signature)",
                                      hide_input=True)))
    done = _act("dispose", what, ref, user_id, reason, password)
    click.echo(f"{what} {ref} disposed of (kept until {_day(done.kept_until)}); "
               "the audit trail keeps the signed decision")
