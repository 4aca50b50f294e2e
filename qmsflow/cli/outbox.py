"""``qmsflow outbox``: send the e-mails that are due (for cron) and count notifications.

Several deliveries may run at once against one PostgreSQL database: they share the work
through row locks. The mail server comes from the ``SMTP_*`` settings (``QMSFLOW_SMTP_HOST``...).
"""

from __future__ import annotations

import click

from qmsflow.engine.persistence import outbox
from qmsflow.web.mail import MailSettingsError, SmtpSender, SmtpSettings

from .common import CommandError, friendly, runtime


def mail_settings() -> SmtpSettings:
    """The mail server of the settings (``SMTP_*``), or one line saying what is wrong."""
    try:
        return runtime().smtp()
    except MailSettingsError as error:
        raise CommandError(str(error)) from None


def deliver(settings: SmtpSettings, limit: int) -> outbox.Delivery:
    """Send up to ``limit`` due messages of the outbox through the mail server."""
    work = runtime()
    with SmtpSender(settings) as sender:
        return outbox.deliver(work.sessions, sender, work.service.now, domain=settings.domain,
                              limit=limit)


def said(result: outbox.Delivery) -> str:
    """What a delivery did, in words."""
    return f"{result.sent} sent, {result.retried} to retry, {result.failed} failed"


@click.group("outbox")
def cli() -> None:
    """Notifications waiting to be sent."""


@cli.command("deliver")
@click.option("--limit", default=1000, show_default=True, help="Most messages to try.")
@friendly
def outbox_deliver(limit: int) -> None:
    """Send the e-mails that are due (SMTP settings from QMSFLOW_SMTP_*)."""
    click.echo(f"outbox: {said(deliver(mail_settings(), limit))}")


@cli.command("status")
@friendly
def outbox_status() -> None:
    """How many notifications there are per channel and status."""
    with runtime().sessions() as session:
        found = outbox.counts(session)
    if not found:
        click.echo("the outbox is empty")
    for (channel, status), count in sorted(found.items()):
        click.echo(f"{channel:8} {status:8} {count}")
