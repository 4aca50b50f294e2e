"""E-mail through a real SMTP server (aiosmtpd) started by the test: what arrives, and that a
worker killed in the middle of sending loses nothing and sends nothing twice."""

from __future__ import annotations

import email
import email.policy
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from qmsflow.engine.persistence.models import OutboxMessage
from qmsflow.web.mail import MailSettingsError
from qmsflow.web.runtime import Runtime

from ..conftest import DEFAULT_SET, ROOT
from ..persistence.conftest import World, open_complaint


@dataclass
class Mailbox:
    """What the SMTP server accepted; ``on_data`` may refuse a message or act before it is."""

    accepted: list[EmailMessage] = field(default_factory=list)
    on_data: Callable[[int], bool] | None = None  # True: accept the n-th message offered
    offered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        with self.lock:
            self.offered += 1
            offered = self.offered
        if self.on_data is not None and not self.on_data(offered):
            return "451 Requested action aborted: try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.SMTP)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.accepted.append(message)
        return "250 Message accepted for delivery"

    def ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.accepted]


QMSFLOW = str(Path(sys.executable).with_name("qmsflow"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, dict[str, str]]]:
    """A real SMTP server on a free port, and the environment that points qmsflow at it."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    env = {"QMSFLOW_SMTP_HOST": "127.0.0.1", "QMSFLOW_SMTP_PORT": str(port),
           "QMSFLOW_SMTP_FROM": "quality@device-maker.example", "QMSFLOW_SMTP_TIMEOUT": "10"}
    yield mailbox, env
    controller.stop()


def qmsflow(world: World, env: dict[str, str], *args: str,
            **options: Any) -> subprocess.Popen[str]:
    """``qmsflow ARGS`` in a subprocess against ``world``'s database."""
    environ = {**os.environ, **env, "DATABASE_URL": world.database.url}
    return subprocess.Popen([QMSFLOW, *args], cwd=ROOT,
                            env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **options)


def finished(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out


def wait_for_line(process: subprocess.Popen[str], wanted: str, timeout: float = 60) -> str:
    """What ``process`` printed on standard output up to its first whole line that starts with
    ``wanted``; fails at the deadline, or when the process ends first (with its stderr).

    Reads the pipe's descriptor directly, so ``communicate`` afterwards gets the rest."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            text = seen.decode(errors="replace")
            if any(line.startswith(wanted) for line in text.splitlines(keepends=True)
                   if line.endswith("\n")):
                return text
            left = deadline - time.monotonic()
            if left <= 0:
                process.kill()
                _, err = process.communicate(timeout=30)
                raise AssertionError(f"no line {wanted!r} within {timeout} s; stdout: {text!r}, "
                                     f"stderr: {err!r}")
            if selector.select(left):
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    _, err = process.communicate(timeout=30)
                    raise AssertionError(f"exited with {process.returncode} before printing "
                                         f"{wanted!r}; stdout: {text!r}, stderr: {err!r}")
                seen += chunk


@pytest.mark.slow
def test_outbox_deliver_sends_the_acknowledgement_in_chinese_to_the_complainant(
        world: World, smtp: tuple[Mailbox, dict[str, str]]) -> None:
    mailbox, env = smtp
    case = open_complaint(world, complainant_email="wang.fang@hospital.example.cn")
    out = finished(qmsflow(world, env, "outbox", "deliver"))
    assert out.strip() == "outbox: 1 sent, 0 to retry, 0 failed"
    [message] = mailbox.accepted
    assert message["To"] == "wang.fang@hospital.example.cn"
    assert message["From"] == "quality@device-maker.example"
    assert message["Subject"] == f"您的反馈已受理（编号 {case.number}）"
    assert message["X-Qmsflow-Case"] == case.number
    assert "王芳 您好" in message.get_content()
    assert str(message["Message-ID"]).endswith("@device-maker.example>")
    finished_again = finished(qmsflow(world, env, "outbox", "deliver"))
    assert finished_again.strip() == "outbox: 0 sent, 0 to retry, 0 failed"
    assert len(mailbox.accepted) == 1


def test_a_server_that_refuses_leaves_the_mail_queued_with_the_reason(
        world: World, smtp: tuple[Mailbox, dict[str, str]]) -> None:
    mailbox, env = smtp
    mailbox.on_data = lambda _n: False
    open_complaint(world, complainant_email="a@b.example")
    out = finished(qmsflow(world, env, "outbox", "deliver"))
    assert out.strip() == "outbox: 0 sent, 1 to retry, 0 failed"
    with world.database.sessions() as session:
        row = session.execute(select(OutboxMessage).where(
            OutboxMessage.channel == "email")).scalar_one()
    assert row.status == "pending" and row.attempts == 1
    assert "451" in (row.last_error or "")


def test_bad_smtp_settings_are_named_with_the_fix(
        world: World, smtp: tuple[Mailbox, dict[str, str]]) -> None:
    _, env = smtp
    process = qmsflow(world, {**env, "QMSFLOW_SMTP_SECURITY": "tls"}, "outbox", "deliver")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err.strip() == ("Error: QMSFLOW_SMTP_SECURITY='tls': use one of none, starttls, "
                           "ssl")


@pytest.mark.parametrize(("env", "host", "security", "refused"), [
    ("production", "mail.example.com", "none", True),
    ("production", "mail.example.com", "starttls", False),
    ("production", "127.0.0.1", "none", False),  # a relay on this machine
    ("development", "mail.example.com", "none", False),
])
def test_production_sends_mail_over_the_network_only_encrypted(
        tmp_path: Path, env: str, host: str, security: str, refused: bool) -> None:
    runtime = Runtime(f"sqlite:///{tmp_path / 'mail.sqlite3'}", DEFAULT_SET, settings={
        "ENV": env, "SMTP_HOST": host, "SMTP_SECURITY": security})
    try:
        if refused:
            with pytest.raises(MailSettingsError, match="set it to 'starttls' or 'ssl'"):
                runtime.smtp()
        else:
            assert runtime.smtp().host == host
    finally:
        runtime.close()


@pytest.mark.slow
def test_a_worker_killed_while_sending_loses_nothing_and_sends_nothing_twice(
        world: World, smtp: tuple[Mailbox, dict[str, str]]) -> None:
    mailbox, env = smtp
    numbers = [open_complaint(world, complainant_email=f"customer{i}@hospital.example").number
               for i in range(12)]
    worker: subprocess.Popen[str] | None = None

    def kill_on_the_fifth(offered: int) -> bool:
        # The worker dies after the server received the fifth message's data and before it
        # could answer: from the worker's side that message was never accepted.
        if offered == 5 and worker is not None:
            os.kill(worker.pid, signal.SIGKILL)
            return False
        return True

    mailbox.on_data = kill_on_the_fifth
    worker = qmsflow(world, env, "worker", "--interval", "0.2")
    worker.communicate(timeout=120)
    assert worker.returncode == -signal.SIGKILL
    assert len(mailbox.accepted) == 4

    mailbox.on_data = None
    restarted = qmsflow(world, env, "worker", "--once")
    finished(restarted)
    assert sorted(m["X-Qmsflow-Case"] for m in mailbox.accepted) == sorted(numbers)
    assert len(set(mailbox.ids())) == len(mailbox.accepted) == 12
    with world.database.sessions() as session:
        pending = session.execute(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.channel == "email", OutboxMessage.status != "sent")).scalar_one()
    assert pending == 0


def test_the_worker_stops_cleanly_on_sigterm(world: World,
                                             smtp: tuple[Mailbox, dict[str, str]]) -> None:
    _, env = smtp
    worker = qmsflow(world, env, "worker", "--interval", "0.2")
    wait_for_line(worker, "worker: ready")  # its loop has started and its handlers are set
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err


