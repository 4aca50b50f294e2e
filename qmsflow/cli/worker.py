"""``qmsflow worker``: the deadline sweep, the scheduled work, the outbox and the audit sealer
in a loop, for hosts without cron.

The sealer runs every second (see :func:`qmsflow.engine.persistence.audit.seal_pending`). It
runs until stopped (SIGTERM or Ctrl+C finish the current batch first) and prints
``worker: ready`` once it has started. Any number of workers may run against one PostgreSQL
database: they share the work through row locks.
"""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType

import click

from qmsflow.engine.persistence import schedules, sweep

from .common import friendly, runtime
from .outbox import deliver, mail_settings, said


@click.command("worker")
@click.option("--interval", default=30.0, show_default=True,
              help="Seconds to wait when there is nothing to do.")
@click.option("--batch", default=sweep.DEFAULT_BATCH, show_default=True,
              type=click.IntRange(min=1), help="Cases per sweep transaction.")
@click.option("--once", is_flag=True, help="One sweep and one delivery, then stop.")
@friendly
def cli(interval: float, batch: int, once: bool) -> None:
    """Run the deadline sweep, open the scheduled work that is due, send notifications and
    seal the audit trail, again and again, until stopped."""
    settings = mail_settings()
    stopping = False

    def stop(_signal: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    rt = runtime()
    service = rt.service
    # Supervisors and tests wait for this line, not for a guessed delay.
    click.echo("worker: ready")
    sys.stdout.flush()
    while True:
        rt.refresh()  # a version activated in the browser is this worker's current set too
        swept = sweep.sweep(service, batch=batch)
        scheduled = schedules.run(service)
        delivered = deliver(settings, limit=1000)
        sealed = service.seal_audit()
        busy = swept.escalated or scheduled.opened or delivered.sent or delivered.retried
        if busy:
            click.echo(f"sweep: {swept.escalated} case(s) escalated; schedules: "
                       f"{scheduled.summary()}; outbox: "
                       f"{said(delivered)}; audit: {sealed.count} entries sealed")
        if once or stopping:
            return
        deadline = time.monotonic() + (0 if busy else interval)
        while not stopping and time.monotonic() < deadline:
            time.sleep(min(1.0, interval))
            service.seal_audit()  # steps keep writing while the sweep waits
        if stopping:
            return
