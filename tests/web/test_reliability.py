"""A web process killed in the middle of a request loses nothing and duplicates nothing.

The application runs under gunicorn on PostgreSQL, as in production. The test holds the audit
chain's lock so that a request stops inside its transaction (its case number taken, its case
not yet written), kills the whole gunicorn process group with SIGKILL, and checks that the
database holds nothing of the half-done request; after a restart the same intake goes through
once, with the same case number and one acknowledgement.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select

from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import audit
from qmsflow.engine.persistence.models import AuditEvent, CaseRow, CaseSequence, OutboxMessage

from ..conftest import ROOT
from ..persistence.conftest import PASSWORD, Clock, Database, make_world
from .test_cases import INTAKE

pytestmark = pytest.mark.slow
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """gunicorn serving qmsflow on ``database`` in its own process group."""

    def __init__(self, database: Database, log: Path) -> None:
        self.port = free_port()
        self.log = log.open("ab")
        env = {**os.environ, "DATABASE_URL": database.url,
               "QMSFLOW_SECRET_KEY": "reliability-test-key", "QMSFLOW_INSTANCE": "/nonexistent"}
        self.process = subprocess.Popen(
            [GUNICORN, "-b", f"127.0.0.1:{self.port}", "-w", "2", "--timeout", "120",
             "--access-logfile", "-", "qmsflow.web:create_app()"], cwd=ROOT, env=env,
            start_new_session=True, stdout=self.log, stderr=self.log)
        # Ready when its port accepts a connection (polled until a deadline, never a fixed
        # delay); a gunicorn that exits first (a taken port, a broken app) fails at once.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        self.kill()
        raise AssertionError(f"gunicorn did not start: see {log}")

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):  # a group already gone
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.close()


class Browser:
    """A person at a browser: cookies, and the CSRF token of each form."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=60) as response:
            return str(response.read().decode())

    def post_form(self, path: str, data: dict[str, str]) -> str:
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', self.get(path))
        assert token is not None
        body = urllib.parse.urlencode({**data, "csrf_token": token.group(1)}).encode()
        with self.opener.open(self.base + path, body, timeout=120) as response:
            return str(response.read().decode())


def counts(database: Database) -> tuple[int, int, int, int]:
    with database.sessions() as session:
        return tuple(session.execute(select(func.count()).select_from(table)).scalar_one()
                     for table in (CaseRow, CaseSequence, OutboxMessage, AuditEvent))  # type: ignore[return-value]


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_web_process_killed_inside_a_request_leaves_nothing_half_done(
        database: Database, default_set: DefinitionSet, clock: Clock, tmp_path: Path) -> None:
    world = make_world(database, default_set, clock)
    before = counts(database)
    intake = {**{k: str(v) for k, v in INTAKE.items()},
              "complainant_email": "wang.fang@hospital.example.cn", "password": PASSWORD}
    server = Server(database, tmp_path / "gunicorn.log")
    try:  # killed on purpose below; killed here too when the test fails first
        sales = Browser(server.port)
        sales.post_form("/login", {"user_id": world.user("sales"), "password": PASSWORD})

        host = dict(part.split("=", 1) for part in os.environ.get(
            "QMSFLOW_TEST_PG", "host=127.0.0.1 port=5432 user=postgres").split())
        dbname = database.url.rsplit("/", 1)[1]
        with psycopg.connect(f"host={host['host']} port={host.get('port', 5432)} "
                             f"user={host.get('user', 'postgres')} dbname={dbname}") as blocker:
            # The request writes the case, then waits to add its audit entries.
            blocker.execute("LOCK TABLE audit_events IN SHARE MODE")
            failures: list[BaseException] = []
            answered: list[str] = []

            def submit() -> None:
                try:
                    answered.append(sales.post_form("/new/complaint/register", intake))
                except (urllib.error.URLError, ConnectionError, OSError) as error:
                    failures.append(error)

            request = threading.Thread(target=submit)
            request.start()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # until the request waits for the audit lock
                # pg_stat_activity is a snapshot per transaction: ask outside the blocker's.
                waiting = blocker.execute("SELECT pg_stat_clear_snapshot()").fetchone() and (
                    blocker.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND "
                        "wait_event_type = 'Lock'", (dbname,)).fetchone())
                if waiting and waiting[0]:
                    break
                time.sleep(0.1)
            else:
                raise AssertionError(f"the request never reached the audit lock: {answered}")
            server.kill()
            request.join(timeout=60)
            blocker.rollback()
    finally:
        server.kill()
    assert failures, "the killed request must not have answered"

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the killed request's backend rolls back and ends
        with psycopg.connect(f"host={host['host']} user={host.get('user', 'postgres')} "
                             f"dbname={dbname}") as probe:
            left = probe.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                                 "AND state <> 'idle' AND pid <> pg_backend_pid()",
                                 (dbname,)).fetchone()
        if left and not left[0]:
            break
        time.sleep(0.2)
    assert counts(database) == before  # no case, no number taken, no notification, no entry

    server = Server(database, tmp_path / "gunicorn.log")
    try:
        sales = Browser(server.port)
        sales.post_form("/login", {"user_id": world.user("sales"), "password": PASSWORD})
        sales.post_form("/new/complaint/register", intake)
    finally:
        server.kill()
    with database.sessions() as session:
        [number] = session.execute(select(CaseRow.number)).scalars().all()
        assert number.endswith("-0001")
        acknowledgements = session.execute(select(OutboxMessage).where(
            OutboxMessage.template == "acknowledgement")).scalars().all()
        assert [m.case_number for m in acknowledgements] == [number]
        checked, breaks = audit.verify(session)
        assert checked and breaks == []
