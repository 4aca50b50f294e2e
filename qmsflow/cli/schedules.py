"""``qmsflow schedules``: open the scheduled work that is due, or preview what a month would
open.

``run`` opens every due occurrence once (``qmsflow worker`` runs it every round); ``preview``
lists what the schedules open in a month (default: next month), opening nothing: the opening
day, the schedule, the entry, the due date, the process, and the case once it is opened.
"""

from __future__ import annotations

import sys

import click

from qmsflow.engine.model import text
from qmsflow.engine.occurrences import month_window, next_month
from qmsflow.engine.persistence import schedules

from .common import CommandError, friendly, runtime


@click.group("schedules")
def cli() -> None:
    """Scheduled work: maintenance visits, follow-up calls..."""


@cli.command("run")
@friendly
def run() -> None:
    """Open every scheduled case that is due, each exactly once.

    Exit status 1 when an occurrence could not be opened (each is named on standard error
    with the reason; it stays due, so the next run tries again).
    """
    service = runtime().service
    result = schedules.run(service)
    for planned in result.opened:
        click.echo(f"{planned.case_number}: {planned.schedule} for {planned.key}, "
                   f"due {planned.due.isoformat()}")
    for failure in result.failures:
        click.echo(f"{failure.schedule} for {failure.key}, due {failure.due.isoformat()}: "
                   f"not opened: {failure.reason}", err=True)
    click.echo(f"schedules: {result.summary()}")
    if not result.ok:
        sys.exit(1)


@cli.command("preview")
@click.option("--month", metavar="YYYY-MM",
              help="The month to list (default: next month, in the organisation's time zone).")
@click.option("--locale", help="The language of the schedules' names (default: the "
                               "organisation's first).")
@friendly
def preview(month: str | None, locale: str | None) -> None:
    """List what the schedules open in a month, opening nothing."""
    served = runtime()
    service = served.service
    definition = service.current
    chosen = locale or definition.organisation.locales[0]
    if chosen not in definition.organisation.locales:
        raise CommandError(f"unknown locale {chosen!r}: use one of "
                           + ", ".join(definition.organisation.locales))
    if month is None:
        first, last = next_month(schedules.local_today(definition, service.now()))
    else:
        try:
            first, last = month_window(month)
        except ValueError:
            raise CommandError(f"--month {month!r} is not a month: write YYYY-MM, "
                               "e.g. 2027-01") from None
    if not definition.schedules:
        click.echo("the definitions declare no schedules")
        return
    planned = schedules.plan(service, first, last)
    click.echo(f"scheduled work from {first.isoformat()} to {last.isoformat()}:")
    for item in planned:
        schedule = definition.schedules.get(item.schedule)
        name = text(schedule.label, chosen) if schedule else item.schedule
        process = definition.processes.get(item.process)
        kind = text(process.label, chosen) if process else item.process
        entry = f"{item.key} ({item.title})" if item.title else item.key
        status = f"opened as {item.case_number}" if item.case_number else "would open"
        click.echo(f"{item.opens_on.isoformat()}  {name}  {entry}  due "
                   f"{item.due.isoformat()}  {kind}  {status}")
    waiting = sum(1 for item in planned if item.case_number is None)
    click.echo(f"{len(planned)} occurrence(s), {waiting} to open")
