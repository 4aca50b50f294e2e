"""Sending the outbox's e-mails over SMTP, with settings from the environment.

| variable | meaning | default |
| --- | --- | --- |
| ``QMSFLOW_SMTP_HOST`` | the SMTP server | ``localhost`` |
| ``QMSFLOW_SMTP_PORT`` | its port | 25 (465 with ``ssl``, 587 with ``starttls``) |
| ``QMSFLOW_SMTP_SECURITY`` | ``none``, ``starttls`` or ``ssl`` | ``none`` |
| ``QMSFLOW_SMTP_USERNAME`` / ``QMSFLOW_SMTP_PASSWORD`` | log in when set | |
| ``QMSFLOW_SMTP_FROM`` | the sender address | ``qmsflow@localhost`` |
| ``QMSFLOW_SMTP_TIMEOUT`` | seconds to wait for the server | 30 |
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from types import TracebackType

from qmsflow.engine.errors import QmsflowError
from qmsflow.engine.persistence import outbox

SECURITY = ("none", "starttls", "ssl")


class MailSettingsError(QmsflowError, ValueError):
    """An SMTP setting that cannot be used; the message names the variable and the fix."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send e-mail."""

    host: str = "localhost"
    port: int = 25
    security: str = "none"
    username: str | None = None
    password: str | None = None
    sender: str = "qmsflow@localhost"
    timeout: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SmtpSettings:
        """The settings from ``QMSFLOW_SMTP_*`` variables (see the module's table)."""
        security = environ.get("QMSFLOW_SMTP_SECURITY", "none").lower()
        if security not in SECURITY:
            raise MailSettingsError(f"QMSFLOW_SMTP_SECURITY={security!r}: use one of "
                                    f"{', '.join(SECURITY)}")
        default_port = {"none": 25, "starttls": 587, "ssl": 465}[security]
        try:
            port = int(environ.get("QMSFLOW_SMTP_PORT", default_port))
            timeout = float(environ.get("QMSFLOW_SMTP_TIMEOUT", 30))
        except ValueError as error:
            raise MailSettingsError(f"QMSFLOW_SMTP_PORT and QMSFLOW_SMTP_TIMEOUT must be "
                                    f"numbers: {error}") from None
        return cls(environ.get("QMSFLOW_SMTP_HOST", "localhost"), port, security,
                   environ.get("QMSFLOW_SMTP_USERNAME") or None,
                   environ.get("QMSFLOW_SMTP_PASSWORD") or None,
                   environ.get("QMSFLOW_SMTP_FROM", "qmsflow@localhost"), timeout)

    @property
    def domain(self) -> str:
        """The sender's domain, for Message-IDs."""
        return self.sender.rpartition("@")[2] or "localhost"


def email_of(message: outbox.Message, sender: str) -> EmailMessage:
    """The MIME message of an outbox message (UTF-8, so Chinese subjects and bodies travel)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = message.message_id
    if message.case_number:
        mail["X-Qmsflow-Case"] = message.case_number
    mail.set_content(message.body)
    return mail


class SmtpSender:
    """Sends outbox messages over one SMTP connection, opened on first use.

    Use as a context manager around a delivery run; a connection that broke is opened again
    for the next message (the failed one is retried by the outbox).
    """

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        smtp: smtplib.SMTP
        if s.security == "ssl":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if s.username:
            smtp.login(s.username, s.password or "")
        return smtp

    def __call__(self, message: outbox.Message) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.send_message(email_of(message, self.settings.sender))
        except (smtplib.SMTPServerDisconnected, OSError):
            self.close()
            raise

    def close(self) -> None:
        """Say goodbye to the server (quietly: the connection may already be gone)."""
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
            self._smtp = None

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
