"""Background work: sending the outbox's e-mails, and ``qmsflow worker`` for hosts without cron.

``qmsflow outbox deliver`` sends what is due once (for cron), ``qmsflow outbox status`` counts
messages by channel and status, and ``qmsflow worker`` runs the deadline sweep and the outbox
in a loop until it is stopped (SIGTERM or Ctrl+C finish the current batch first). Any number
of workers may run against one PostgreSQL database: they share the work through row locks.
"""

from __future__ import annotations

import os
import signal
import time
from types import FrameType

import click

from qmsflow.engine.persistence import outbox
from qmsflow.engine.persistence.sweep import DEFAULT_BATCH, sweep

from .admin_cli import CommandError, friendly, runtime
from .mail import MailSettingsError, SmtpSender, SmtpSettings


def _settings() -> SmtpSettings:
    try:
        return SmtpSettings.from_env(os.environ)
    except MailSettingsError as error:
        raise CommandError(str(error)) from None


def _deliver(settings: SmtpSettings, limit: int) -> outbox.Delivery:
    work = runtime()
    with SmtpSender(settings) as sender:
        return outbox.deliver(work.sessions, sender, work.service.now, domain=settings.domain,
                              limit=limit)


def _said(result: outbox.Delivery) -> str:
    return f"{result.sent} sent, {result.retried} to retry, {result.failed} failed"


@click.group("outbox")
def outbox_group() -> None:
    """Notifications waiting to be sent."""


@outbox_group.command("deliver")
@click.option("--limit", default=1000, show_default=True, help="Most messages to try.")
@friendly
def outbox_deliver(limit: int) -> None:
    """Send the e-mails that are due (SMTP settings from QMSFLOW_SMTP_*)."""
    click.echo(f"outbox: {_said(_deliver(_settings(), limit))}")


@outbox_group.command("status")
@friendly
def outbox_status() -> None:
    """How many notifications there are per channel and status."""
    with runtime().sessions() as session:
        found = outbox.counts(session)
    if not found:
        click.echo("the outbox is empty")
    for (channel, status), count in sorted(found.items()):
        click.echo(f"{channel:8} {status:8} {count}")


@click.command("worker")
@click.option("--interval", default=30.0, show_default=True,
              help="Seconds to wait when there is nothing to do.")
@click.option("--batch", default=DEFAULT_BATCH, show_default=True, type=click.IntRange(min=1),
              help="Cases per sweep transaction.")
@click.option("--once", is_flag=True, help="One sweep and one delivery, then stop.")
@friendly
def worker(interval: float, batch: int, once: bool) -> None:
    """Run the deadline sweep and send notifications, again and again, until stopped."""
    settings = _settings()
    stopping = False

    def stop(_signal: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    service = runtime().service
    while True:
        swept = sweep(service, batch=batch)
        delivered = _deliver(settings, limit=1000)
        busy = swept.escalated or delivered.sent or delivered.retried
        if busy:
            click.echo(f"sweep: {swept.escalated} case(s) escalated; outbox: "
                       f"{_said(delivered)}")
        if once or stopping:
            return
        deadline = time.monotonic() + (0 if busy else interval)
        while not stopping and time.monotonic() < deadline:
            time.sleep(min(1.0, interval))
        if stopping:
            return


COMMANDS = (outbox_group, worker)
