"""``qmsflow sweep``: run the deadline warnings and breaches that are due, once, then seal the
audit entries written since the last seal.

For cron, or by hand; ``qmsflow worker`` runs the same sweep in a loop. Several sweeps may run
at once against one PostgreSQL database (on several hosts): each case is escalated by one.
"""

from __future__ import annotations

import sys
import time

import click

from qmsflow.engine.persistence import sweep

from .common import friendly, runtime


@click.command("sweep")
@click.option("--batch", default=sweep.DEFAULT_BATCH, show_default=True,
              type=click.IntRange(min=1),
              help="Cases per transaction (smaller: shorter waits for people's steps).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Stop after this many cases (default: every case due now).")
@friendly
def cli(batch: int, limit: int | None) -> None:
    """Run the due deadline warnings and breaches, each exactly once.

    Prints one summary line; exit status 1 when a case could not be escalated (each one is
    named on standard error with the reason; it stays due, so the next sweep tries again).
    """
    service = runtime().service
    started = time.perf_counter()
    result = sweep.sweep(service, batch=batch, limit=limit)
    sealed = service.seal_audit()  # for hosts that run this from cron instead of the worker
    elapsed = time.perf_counter() - started
    for failure in result.failures:
        click.echo(f"{failure.number}: not escalated: {failure.reason}", err=True)
    click.echo(f"sweep: {result.summary()}; {sealed.count} audit entries sealed "
               f"({elapsed:.1f} s)")
    if not result.ok:
        sys.exit(1)
