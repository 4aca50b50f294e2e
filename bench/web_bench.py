"""Benchmark: the web app under load on a seeded PostgreSQL database, against a trivial route.

Run bench/seed.py first (``--fresh`` whenever the schema changed: the bench refuses a database
whose schema differs from the models, or that holds far fewer cases than asked). Then, in one
run, gunicorn with 2 sync workers (``--worker-class gthread`` to compare) serves the real app
(``create_app()`` configured from the environment as in production: ``QMSFLOW_ENV=production``,
a random secret key, the default definition set; only ``QMSFLOW_SESSION_COOKIE_SECURE=false``,
since the bench talks plain HTTP on loopback) plus one trivial route ``GET /bench/ping`` added
by bench/baseline_app.py (same app, same workers, same hooks), and wrk on this machine drives,
one after the other, each for a bounded time (2 threads, 8 connections, 20 s by default, after
a 3 s warm-up each):

(a) ``GET /bench/ping`` without a session: the floor of a request through gunicorn and Flask;
(b) ``GET /bench/ping`` signed in: the same plus what every signed-in request pays (the session
    cookie, Flask-Login loading the account from the database, the inactivity check);
(c) ``GET /``, the inbox's first page for a bench user holding the role with the largest open
    queue (and a role that may take the step below): their cases and their roles' queues,
    soonest due first;
(d) ``POST /cases/<number>/do/provide_loaner``: the step's form as a browser sends it (CSRF
    token, the ``row_version`` the user saw, the loaner serial, ``submit=1``) on distinct open
    ``workshop_repair`` service requests, each posted once (bench/wrk/action.lua), their row
    versions read from the database just before; success is the 303 to the case page.

Per route: requests/s, latency p50 and p95 (wrk's histogram, from its Lua ``done()``), and the
errors: any status other than the expected one (200, or 303 for the post; a 409 would mean a
case was posted twice or changed under the bench) and socket errors. The last line is the ratio
of the inbox's and the action's requests/s to the baseline's (a).

The bench user (``webbench.<roles>``, password below) is created once through
``qmsflow.engine.persistence.users`` and reused. Each run takes the open workshop_repair cases
least recently changed (1,000,000 seeded cases hold ~11,000; the step keeps a case in its state,
so a case can be taken again in a later run with its new row version); if the cases run out
before the time is up the action's run stops early and says so. Every action goes through the
case service, so the database stays valid; at the end the audit entries this run wrote are
checked (hashes, the global chain from the head before the run to the head after, each case's
chain head); ``--verify`` runs ``audit.verify`` over the whole trail as well (a minute or more).

Figures on a shared 2-core machine vary by +-30% between runs (wrk, gunicorn and PostgreSQL
share the two cores); compare within one run.

Run:
    .venv/bin/python bench/seed.py --fresh               # once: 1,000,000 cases
    .venv/bin/python bench/web_bench.py                  # default database qmsflow_bench
    .venv/bin/python bench/web_bench.py --duration 30 --connections 16 --worker-class gthread
    .venv/bin/python bench/web_bench.py --url postgresql+psycopg://postgres@host/db
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, urlencode

import psycopg
from argon2.exceptions import InvalidHashError, VerificationError
from seed import libpq  # bench/ is on the path of a bench script
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from qmsflow.engine.loader import load
from qmsflow.engine.model import Step
from qmsflow.engine.persistence import audit, schema, users
from qmsflow.engine.persistence.db import connect, session_factory, transaction
from qmsflow.engine.persistence.models import AuditEvent, CaseRow, User

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
WRK_SCRIPTS = BENCH / "wrk"
DEFAULT_SET = ROOT / "definitions" / "default"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/qmsflow_bench"
SEED = ".venv/bin/python bench/seed.py --fresh"
PROCESS, ACTION = "service_request", "provide_loaner"
PASSWORD = "web bench password 2026"
USER_AGENT = "qmsflow-web-bench"  # Flask-Login's strong session protection hashes it
COOKIE = "qmsflow_session"
MIN_CASES = 900_000
ROUTES = ("ping", "ping-signed-in", "inbox", "action")


def fail(message: str) -> NoReturn:
    print(message, file=sys.stderr)
    raise SystemExit(1)


# -- the database: seeded?, the bench user, the cases to post ---------------------------------


def check_database(url: str, min_cases: int) -> int:
    """The number of cases; exits with what to do when the database is not seeded."""
    seed = f"seed it first: {SEED}" + ("" if url == DEFAULT_URL else f" --url {url}")
    try:
        engine = connect(url)
        drift = schema.differences(engine)
    except OperationalError as error:
        fail(f"cannot use the database {make_url(url).database}: "
             f"{str(error.orig).strip().splitlines()[0]}\n{seed}")
    engine.dispose()
    if drift:
        fail(f"the database's schema differs from the models ({len(drift)} differences, e.g. "
             f"{drift[0]}): {seed}")
    with psycopg.connect(libpq(url)) as conn:
        found = conn.execute("SELECT count(*) FROM cases").fetchone()
    cases = int(found[0]) if found else 0
    if cases < min_cases:
        fail(f"the database holds {cases:,} cases, the bench wants ~1,000,000 (at least "
             f"{min_cases:,}): {seed}")
    return cases


def bench_roles(conn: psycopg.Connection[Any], step: Step) -> tuple[str, int, list[str]]:
    """The role owning the largest open queue, its size, and the bench user's roles: that role
    and, unless it may take the step already, the first role that may."""
    found = conn.execute(
        "SELECT assignee_role, count(*) FROM cases WHERE closed_at IS NULL AND voided_at IS NULL"
        " AND assignee_role IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 1").fetchone()
    conn.rollback()
    if found is None:
        fail(f"no open case has a role: seed again ({SEED})")
    role, queue = str(found[0]), int(found[1])
    roles = [role] if role in step.roles else sorted({role, step.roles[0]})
    return role, queue, roles


def bench_user(url: str, roles: Sequence[str]) -> str:
    """The bench user with ``roles`` and PASSWORD: created once, reused (unlocked and its
    password set again when it no longer matches)."""
    user_id = "webbench." + "-".join(r.replace("_", "-") for r in roles)
    definition = load(DEFAULT_SET)
    engine = connect(url)
    try:
        with transaction(session_factory(engine)) as session:
            now = datetime.now(UTC)
            user = session.get(User, user_id)
            if user is None:
                users.add(session, definition, user_id, "Web bench user", roles, PASSWORD, now)
                print(f"created the bench user {user_id} (roles {', '.join(roles)})")
            else:
                if user.disabled:
                    fail(f"the bench user {user_id} is disabled; it cannot sign in")
                try:
                    good = users.HASHER.verify(user.password_hash or "", PASSWORD)
                except (VerificationError, InvalidHashError):
                    good = False
                locked = user.locked_until is not None and user.locked_until > now
                if not good or locked or user.failed_logins:
                    users.set_password(session, user_id, PASSWORD, now)
    finally:
        engine.dispose()
    return user_id


@dataclass
class Post:
    number: str
    row_version: int


def open_cases(conn: psycopg.Connection[Any], step: Step, limit: int) -> list[Post]:
    """Distinct open cases the step can be taken on, least recently changed first, with the
    row version each has now."""
    rows = conn.execute(
        "SELECT number, row_version FROM cases WHERE process = %s AND state = ANY(%s) "
        "AND closed_at IS NULL AND voided_at IS NULL ORDER BY updated_at, id LIMIT %s",
        (PROCESS, list(step.sources), limit)).fetchall()
    conn.rollback()
    return [Post(str(number), int(version)) for number, version in rows]


def last_entry(conn: psycopg.Connection[Any]) -> int:
    found = conn.execute("SELECT COALESCE(max(id), 0) FROM audit_events").fetchone()
    conn.rollback()
    assert found is not None
    return int(found[0])


def check_written(url: str, before: int) -> str:
    """Check the audit entries written after entry ``before`` (the last at the start): each
    row's hash, each touched case's chain (linked to the case's entry before, ending at the
    case's stored head), and that the sealer seals them all. A line to print."""
    engine = connect(url)
    problems: list[str] = []
    try:
        with transaction(session_factory(engine)) as session:
            rows = session.execute(select(AuditEvent).where(
                AuditEvent.id > before).order_by(AuditEvent.id)).scalars().all()
            case_last: dict[int, tuple[int, str, str]] = {}  # case -> (seq, hash, first prev)
            case_first: dict[int, int] = {}
            for row in rows:
                data = {name: getattr(row, name) for name in (*audit.HASHED_CHAINED,
                                                              "key_id")}
                if audit.entry_hash(data) != row.hash:
                    problems.append(f"event {row.id}: its hash does not match its content")
                if row.case_id is not None:
                    last = case_last.get(row.case_id)
                    if last is None:
                        case_first[row.case_id] = row.case_seq
                    elif row.case_seq != last[0] + 1 or row.case_prev_hash != last[1]:
                        problems.append(f"event {row.id}: case {row.case_number}'s chain breaks")
                    first_prev = last[2] if last else row.case_prev_hash
                    case_last[row.case_id] = (row.case_seq, row.hash, first_prev)
            while audit.seal_pending(session, datetime.now(UTC), wait_ms=None).count:
                pass
            if audit.pending(session):
                problems.append("the sealer left entries unsealed")
            # Each case's first new entry follows the case's entry before it; its last is the
            # case's head.
            for case_id, (seq, last_hash, first_prev) in case_last.items():
                first = case_first[case_id]
                earlier = session.execute(select(AuditEvent.hash).where(
                    AuditEvent.case_id == case_id,
                    AuditEvent.case_seq == first - 1)).scalar_one_or_none()
                if (earlier or audit.GENESIS) != first_prev:
                    problems.append(f"case {case_id}: its first new entry does not follow the "
                                    "one before")
                stored = session.execute(select(
                    CaseRow.audit_count, CaseRow.audit_hash).where(
                    CaseRow.id == case_id)).one()
                if (stored.audit_count, stored.audit_hash) != (seq, last_hash):
                    problems.append(f"case {case_id}: its stored chain head is not its last "
                                    "entry")
    finally:
        engine.dispose()
    if problems:
        return (f"audit entries written by this run: {len(rows)}, {len(problems)} PROBLEMS: "
                + "; ".join(problems[:10]))
    return (f"audit entries written by this run: {len(rows):,} on {len(case_last):,} cases: "
            "hashes and case chains check out, all sealed")


# -- gunicorn ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    folder: Path

    def stop(self) -> None:
        """Graceful stop (SIGTERM to the master: workers finish their request), then kill."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        path = self.folder / "error.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


#: The audit key of every server this benchmark starts (a benchmark's, never a real one).
AUDIT_KEY = "qmsflow web benchmark audit key, not a secret"


def start_server(url: str, workers: int, worker_class: str, threads: int,
                 folder: Path) -> Server:
    port = free_port()
    env = {**os.environ,
           "DATABASE_URL": url,
           "QMSFLOW_DEFINITIONS": str(DEFAULT_SET),
           "QMSFLOW_SECRET_KEY": secrets.token_hex(32),
           "QMSFLOW_AUDIT_KEY": AUDIT_KEY,  # production seals the trail; --verify checks it
           "QMSFLOW_ENV": "production",
           "QMSFLOW_SESSION_COOKIE_SECURE": "false",  # plain HTTP on loopback; JSON false
           "QMSFLOW_PUBLIC_URL": "https://service.example.com",  # what survey links would say
           "QMSFLOW_INSTANCE": str(folder / "instance"),  # no developer's instance config
           }
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers),
               "--worker-class", worker_class, "--bind", f"127.0.0.1:{port}",
               "--timeout", "60", "--pythonpath", str(BENCH),
               # as deploy/gunicorn.conf.py: an access log (here to a file, not a terminal)
               "--access-logfile", str(folder / "access.log"),
               "--error-logfile", str(folder / "error.log")]
    if worker_class == "gthread":
        command += ["--threads", str(threads)]
    with (folder / "gunicorn.out").open("wb") as out:  # what gunicorn itself prints
        process = subprocess.Popen([*command, "baseline_app:app"], cwd=ROOT, env=env,
                                   stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT)
    server = Server(process, port, folder)
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            fail(f"gunicorn stopped at start-up (exit {process.returncode}):\n"
                 f"{server.log_tail()}")
        try:
            status, _, _ = Client(port).request("GET", "/bench/ping")
            if status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            fail(f"gunicorn did not answer within 90 s:\n{server.log_tail()}")
        time.sleep(0.3)
    # Each worker builds the app after the fork: let both finish before measuring.
    for _ in range(20):
        Client(port).request("GET", "/bench/ping")
    return server


# -- a browser's session ----------------------------------------------------------------------


@dataclass
class Client:
    """Plain HTTP/1.1 with the session cookie kept, redirects not followed."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, form: dict[str, str] | None = None
                ) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"User-Agent": USER_AGENT}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for line in response.msg.get_all("Set-Cookie") or []:
                if "secure" in [p.strip().lower() for p in line.split(";")[1:]]:
                    fail("the session cookie is marked Secure, so no client sends it back over "
                         "plain HTTP: the app did not take QMSFLOW_SESSION_COOKIE_SECURE=false")
                parsed: SimpleCookie = SimpleCookie()
                parsed.load(line)
                for name, morsel in parsed.items():
                    if morsel.value == "" or morsel["max-age"] == "0":
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            return response.status, dict(response.getheaders()), text
        finally:
            conn.close()


CSRF_INPUT = re.compile(r"<input[^>]*\bname=\"csrf_token\"[^>]*>")
VALUE = re.compile(r"\bvalue=\"([^\"]+)\"")


def csrf_token(html: str) -> str | None:
    found = CSRF_INPUT.search(html)
    value = VALUE.search(found.group(0)) if found else None
    return value.group(1) if value else None


def sign_in(port: int, user_id: str, probe_path: str, inputs: Sequence[str],
            inbox: bool) -> tuple[str, str]:
    """Sign in as a browser does; the session cookie and the session's CSRF token (from the
    step's form, which also shows the fields the bench posts)."""
    client = Client(port)
    status, _, html = client.request("GET", "/login")
    token = csrf_token(html)
    if status != 200 or token is None:
        fail(f"GET /login answered {status} without a csrf_token field")
    status, headers, html = client.request(
        "POST", "/login", {"user_id": user_id, "password": PASSWORD, "csrf_token": token})
    if status not in (302, 303) or COOKIE not in client.cookies:
        problem = re.search(r'class="[^"]*(?:problem|error|alert)[^"]*"[^>]*>([^<]+)', html)
        fail(f"signing in as {user_id} failed: {status}"
             + (f" ({problem.group(1).strip()})" if problem else ""))
    # Signing in clears the session, CSRF token included: a page with a form gives the new one.
    status, _, html = client.request("GET", probe_path)
    token = csrf_token(html)
    if status != 200 or token is None:
        fail(f"GET {probe_path} (the step's form) answered {status}"
             + ("" if token else " without a csrf_token field"))
    missing = [name for name in inputs if f'name="{name}"' not in html]
    if missing:
        fail(f"the step's form has no field {', '.join(missing)}: the bench posts it")
    status, headers, _ = client.request("GET", "/") if inbox else (200, {}, "")
    if status != 200:
        fail(f"GET / (the inbox) answered {status} after signing in"
             + (f" (to {headers.get('Location')})" if "Location" in headers else ""))
    return client.cookies[COOKIE], token


# -- wrk --------------------------------------------------------------------------------------


@dataclass
class Result:
    route: str
    requests: int
    seconds: float
    p50: float  # ms
    p95: float
    p99: float
    unexpected: int
    socket_errors: int
    statuses: str
    exhausted: int
    wrk_output: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


BENCH_LINE = re.compile(r"^qmsflow-bench (.*)$", re.MULTILINE)


def run_wrk(route: str, port: int, path: str, script: Path, script_args: Sequence[str],
            cookie: str | None, threads: int, connections: int, seconds: float) -> Result:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
               "--timeout", "30s", "-s", str(script), "-H", f"User-Agent: {USER_AGENT}"]
    if cookie is not None:
        command += ["-H", f"Cookie: {COOKIE}={cookie}"]
    command += [f"http://127.0.0.1:{port}{path}", "--", *script_args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    found = BENCH_LINE.search(done.stdout)
    if done.returncode != 0 or found is None:
        fail(f"wrk failed on {route} (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    assert found is not None
    values = dict(item.split("=", 1) for item in found.group(1).split())
    number = {k: float(v) for k, v in values.items() if k != "statuses"}
    return Result(route, int(number["requests"]), number["duration_us"] / 1e6,
                  number["p50_us"] / 1000, number["p95_us"] / 1000, number["p99_us"] / 1000,
                  int(number["unexpected"]),
                  int(sum(number[k] for k in ("connect", "read", "write", "timeout"))),
                  values["statuses"], int(number["exhausted"]), done.stdout)


def write_posts(path: Path, posts: Sequence[Post], step: Step, token: str,
                tag: str) -> None:
    """One line per case: the step form's path and its urlencoded body, as a browser posts."""
    with path.open("w") as out:
        for index, post in enumerate(posts):
            form = {"csrf_token": token, "row_version": str(post.row_version)}
            for item in step.inputs:
                form[item.field] = f"{tag}-{index:06d}"
            form["submit"] = "1"
            out.write(f"/cases/{quote(post.number, safe='')}/do/{step.id}\t{urlencode(form)}\n")


# -- the run ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--duration", type=float, default=20, help="seconds per route")
    parser.add_argument("--warmup", type=float, default=3, help="seconds per route, unmeasured")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"))
    parser.add_argument("--worker-threads", type=int, default=4,
                        help="threads per worker with --worker-class gthread")
    parser.add_argument("--cases", type=int, default=20_000,
                        help="most open cases to hand wrk for the action (each posted once)")
    parser.add_argument("--min-cases", type=int, default=MIN_CASES,
                        help="fewest cases the database must hold")
    parser.add_argument("--routes", default=",".join(ROUTES),
                        help="which routes to measure, comma-separated, of "
                        f"{', '.join(ROUTES)} (the baseline 'ping' always runs)")
    parser.add_argument("--verify", action="store_true",
                        help="also run audit.verify over the whole trail at the end (slow)")
    args = parser.parse_args()
    chosen = {"ping", *(r.strip() for r in args.routes.split(",") if r.strip())}
    if chosen - set(ROUTES):
        fail(f"unknown routes {', '.join(sorted(chosen - set(ROUTES)))}: "
             f"choose from {', '.join(ROUTES)}")
    if shutil.which("wrk") is None:
        fail("wrk is not installed (Debian: apt-get install wrk)")

    total = check_database(args.url, args.min_cases)
    definition = load(DEFAULT_SET)
    process = definition.process(PROCESS)
    step = process.steps[ACTION]
    for item in step.inputs:
        if process.fields[item.field].type != "text":
            fail(f"{ACTION} asks for {item.field} ({process.fields[item.field].type}); the "
                 "bench fills text fields only")
    conn = psycopg.connect(libpq(args.url))
    role, queue, roles = bench_roles(conn, step)
    user_id = bench_user(args.url, roles)
    before = last_entry(conn)
    posts = open_cases(conn, step, args.cases)
    if len(posts) < 100:
        fail(f"only {len(posts)} open {PROCESS} cases in {', '.join(step.sources)}: seed "
             f"again ({SEED})")
    print(f"database: {make_url(args.url).database}, {total:,} cases; bench user {user_id} "
          f"(roles {', '.join(roles)}; {role} has the largest open queue: {queue:,} cases); "
          f"{len(posts):,} open {PROCESS} cases in {', '.join(step.sources)} for '{ACTION}'")

    folder = Path(tempfile.mkdtemp(prefix="qmsflow-web-bench-"))
    server = start_server(args.url, args.workers, args.worker_class, args.worker_threads,
                          folder)
    results: dict[str, Result] = {}
    try:
        print(f"gunicorn: {args.workers} {args.worker_class} workers"
              + (f" x {args.worker_threads} threads" if args.worker_class == "gthread" else "")
              + f" on 127.0.0.1:{server.port}; wrk: {args.threads} threads, "
              f"{args.connections} connections, {args.duration:g} s per route after "
              f"{args.warmup:g} s of warm-up")
        cookie, token = sign_in(server.port, user_id,
                                f"/cases/{quote(posts[0].number, safe='')}/do/{step.id}",
                                [i.field for i in step.inputs], "inbox" in chosen)
        # The first cases warm up, the rest are measured: no case is posted twice.
        warm_count = min(len(posts) // 10, 1000) if args.warmup else 0
        tag = f"WEB-{datetime.now(UTC):%H%M%S}"
        write_posts(folder / "warm.txt", posts[:warm_count], step, token, tag + "W")
        write_posts(folder / "posts.txt", posts[warm_count:], step, token, tag)
        get_script, post_script = WRK_SCRIPTS / "get.lua", WRK_SCRIPTS / "action.lua"
        ok = ["200"]
        routes: list[tuple[str, str, str, Path, list[str], list[str], str | None]] = [
            ("ping", "GET /bench/ping (baseline)", "/bench/ping", get_script, ok, ok, None),
            ("ping-signed-in", "GET /bench/ping signed in", "/bench/ping", get_script, ok, ok,
             cookie),
            ("inbox", "GET / (inbox, 1st page)", "/", get_script, ok, ok, cookie),
            ("action", f"POST {ACTION}", "/", post_script,
             [str(folder / "warm.txt"), str(args.threads), "303"],
             [str(folder / "posts.txt"), str(args.threads), "303"], cookie),
        ]
        for key, route, path, script, warm_args, measured_args, with_cookie in routes:
            if key not in chosen:
                continue
            if args.warmup:
                run_wrk(route, server.port, path, script, warm_args, with_cookie,
                        args.threads, args.connections, args.warmup)
            result = run_wrk(route, server.port, path, script, measured_args, with_cookie,
                             args.threads, args.connections, args.duration)
            results[key] = result
            print(f"  {route}: {result.rate:.1f} requests/s, statuses {result.statuses}"
                  + (f", {result.socket_errors} socket errors" if result.socket_errors else "")
                  + (" (ran out of cases: stopped early)" if result.exhausted else ""))
    except SystemExit:
        print(f"gunicorn's log ({folder / 'error.log'}) ends:\n{server.log_tail(15)}",
              file=sys.stderr)
        raise
    finally:
        server.stop()
    print(f"gunicorn stopped (exit {server.process.returncode}); its logs: {folder}")

    print(f"\n{'route':34} {'requests/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'requests':>9} {'errors':>7}")
    for r in results.values():
        print(f"{r.route:34} {r.rate:10.1f} {r.p50:8.1f} {r.p95:8.1f} {r.p99:8.1f} "
              f"{r.requests:9,} {r.unexpected + r.socket_errors:7}"
              + (f"  (out of cases after {r.seconds:.1f} s)" if r.exhausted else ""))
    action = results.get("action")
    if action is not None and action.unexpected:
        print(f"  the action's statuses: {action.statuses} (only 303 is success; 409: a case "
              "changed since its row version was read)")
    print(check_written(args.url, before))
    if args.verify:
        engine = connect(args.url)
        keys = audit.Keys(AUDIT_KEY.encode("utf-8"))
        with transaction(session_factory(engine, keys)) as session:
            checked, breaks = audit.verify(session)
        engine.dispose()
        print(f"audit.verify: {checked:,} entries, "
              + ("no breaks" if not breaks else f"{len(breaks)} BREAKS, first: {breaks[0]}"))
    else:
        print("(the whole trail not verified: --verify runs audit.verify over it)")
    conn.close()
    baseline = results["ping"].rate

    def ratio(key: str) -> str:
        return f"{results[key].rate / baseline:.2f}" if key in results else "n/a"

    print(f"ratio inbox/baseline={ratio('inbox')} action/baseline={ratio('action')}")


if __name__ == "__main__":
    main()
