"""Benchmark: the deadline sweep over 100,000 due clocks of the 1,000,000-case database.

Run bench/seed.py first. The seeded database stays as it is: each run works on a copy
(``CREATE DATABASE qmsflow_sweep TEMPLATE qmsflow_bench``, dropped at the end; nobody else
may be connected to the seeded database while it is copied).

The clocks: the seeded open cases are a real backlog, their clocks warned, breached or not
yet. The sweep runs at a fixed moment, chosen as the time at which exactly ``--due`` (100,000)
running clocks of open cases have a level (warning or breach) due and not yet done: the
100,000th earliest such time. So the copy is not edited: at that moment those 100,000 clocks
are due, in the cases' data as in the ``case_clocks`` mirror, and nothing else is.

Measured: a full sweep (``qmsflow.engine.persistence.sweep.sweep``, batches of ``--batch``
cases) with 1 worker process, then on a fresh copy with 4 worker processes in parallel, each
with its own engine, as four ``qmsflow worker`` hosts would. Each worker compiles the
definitions before the start (not timed); the time is from the common start to the last
worker's end. Checked after each run: no clock is left due at the moment, and no (case,
clock) has two warning or two breach entries.

Each run also prints its CPU per case: the workers' own, and the whole machine's (from
/proc/stat: the workers, the database server and anything else running). With 4 workers the
2 cores are busy throughout, so the machine's CPU per case sets the time.

``--profile`` also runs one worker under cProfile for ``--profile-cases`` cases first (the
copy is made again before the timed runs) and prints where the time goes: by layer, and the
functions with the most time of their own.

The last line is the 4-worker time against the 60 s target (below 1: within it).

Run:
    .venv/bin/python bench/seed.py --fresh       # once: 1,000,000 cases (bench-db)
    .venv/bin/python bench/sweep_bench.py        # or: make bench-sweep
    .venv/bin/python bench/sweep_bench.py --profile --workers 4
"""

from __future__ import annotations

import argparse
import cProfile
import io
import multiprocessing
import pstats
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from seed import libpq  # bench/ is on the path of a bench script
from sqlalchemy.engine import make_url
from writers_bench import busy_cpu

from qmsflow.engine.loader import load
from qmsflow.engine.persistence import versions
from qmsflow.engine.persistence.db import connect, session_factory
from qmsflow.engine.persistence.service import CaseService
from qmsflow.engine.persistence.sweep import DEFAULT_BATCH, SweepResult, sweep

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = ROOT / "definitions" / "default"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/qmsflow_bench"
COPY = "qmsflow_sweep"
TARGET = 60.0  # seconds for 100,000 due clocks
MIN_CASES = 1_000_000

# The time from which each running clock of an open case has a level due and not done.
PENDING = """
    SELECT LEAST(CASE WHEN NOT k.warned THEN k.warn_at END,
                 CASE WHEN NOT k.breached THEN k.due_at END) AS at
    FROM case_clocks k JOIN cases c ON c.id = k.case_id
    WHERE k.status = 'running' AND c.closed_at IS NULL AND c.voided_at IS NULL
"""


def fail(message: str) -> None:
    print(f"sweep_bench: {message}", file=sys.stderr)
    raise SystemExit(1)


def url_of(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def check_source(url: str, minimum: int) -> int:
    try:
        with psycopg.connect(libpq(url)) as conn:
            row = conn.execute("SELECT count(*) FROM cases").fetchone()
    except psycopg.Error as error:
        fail(f"cannot read the seeded database ({error}); run bench/seed.py --fresh first")
    count = int(row[0]) if row else 0
    if count < minimum:
        fail(f"the seeded database holds {count:,} cases, fewer than {minimum:,}: "
             "run bench/seed.py --fresh (or wait for it to finish)")
    return count


def copy_database(url: str) -> float:
    """A fresh copy of the seeded database as COPY; seconds taken."""
    source = make_url(url).database
    started = time.perf_counter()
    with psycopg.connect(libpq(url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{COPY}" WITH (FORCE)')  # type: ignore[arg-type]
        create = f'CREATE DATABASE "{COPY}" TEMPLATE "{source}"'
        try:
            # FILE_COPY (PostgreSQL 15+) copies the files: much faster than WAL-logging every
            # block of a 4 GB database, as the default strategy does.
            admin.execute(f"{create} STRATEGY FILE_COPY")  # type: ignore[arg-type]
        except psycopg.errors.SyntaxError:
            admin.execute(create)  # type: ignore[arg-type]
        except psycopg.errors.ObjectInUse:
            fail(f"{source} is in use by another connection: it can only be copied when idle")
    return time.perf_counter() - started


def drop_copy(url: str) -> None:
    with psycopg.connect(libpq(url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{COPY}" WITH (FORCE)')  # type: ignore[arg-type]


def choose_moment(url: str, due: int) -> tuple[datetime, int, int]:
    """The moment at which ``due`` clocks are due; how many clocks and cases exactly."""
    with psycopg.connect(libpq(url, COPY)) as conn:
        row = conn.execute(f"SELECT at FROM ({PENDING}) p WHERE at IS NOT NULL "  # type: ignore[arg-type]
                           "ORDER BY at OFFSET %s LIMIT 1", (due - 1,)).fetchone()
        if row is None:
            fail(f"fewer than {due:,} running clocks of open cases have a level left to run")
        moment = row[0]
        counted = conn.execute("""
            SELECT count(*), count(DISTINCT k.case_id) FROM case_clocks k
            JOIN cases c ON c.id = k.case_id
            WHERE k.status = 'running' AND c.closed_at IS NULL AND c.voided_at IS NULL
              AND ((NOT k.warned AND k.warn_at <= %(at)s)
                   OR (NOT k.breached AND k.due_at <= %(at)s))""",  # type: ignore[arg-type]
                             {"at": moment}).fetchone()
    assert counted is not None
    return moment, int(counted[0]), int(counted[1])


def check_done(url: str, moment: datetime) -> tuple[int, int]:
    """Clocks still due at ``moment``, and (case, clock, level) with more than one entry."""
    with psycopg.connect(libpq(url, COPY)) as conn:
        left = conn.execute("""
            SELECT count(*) FROM case_clocks k JOIN cases c ON c.id = k.case_id
            WHERE k.status = 'running' AND c.closed_at IS NULL AND c.voided_at IS NULL
              AND ((NOT k.warned AND k.warn_at <= %(at)s)
                   OR (NOT k.breached AND k.due_at <= %(at)s))""", {"at": moment}).fetchone()
        twice = conn.execute("""
            SELECT count(*) FROM (
                SELECT case_id, field, action FROM audit_events
                WHERE action IN ('clock_warning', 'clock_breach') AND at = %(at)s
                GROUP BY case_id, field, action HAVING count(*) > 1) d""",
                             {"at": moment}).fetchone()
    assert left is not None and twice is not None
    return int(left[0]), int(twice[0])


@dataclass(frozen=True)
class Run:
    """One worker's sweep: its result and when it started and ended (monotonic clock)."""

    result: SweepResult
    started: float
    ended: float
    cpu: float  # seconds of this worker's own CPU time
    busy: tuple[float, float]  # the machine's busy CPU seconds at its start and at its end
    profile: str = ""


def worker(url: str, moment: datetime, batch: int, limit: int | None, start: Any,
           profile: bool) -> Run:
    """One sweeper process: its own engine and service on the copy, started with the others."""
    engine = connect(url_of(url, COPY))
    service = CaseService(session_factory(engine), versions.Versions(), load(DEFAULT_SET),
                          lambda: moment)
    with service.transaction() as session:  # compile every stored version now, not timed
        for stored in versions.listed(session):
            service.versions.get(session, stored.hash)
    profiler = cProfile.Profile() if profile else None
    if start is not None:
        start.wait(600)
    started, cpu, (busy, _) = time.monotonic(), time.process_time(), busy_cpu()
    if profiler is not None:
        profiler.enable()
    try:
        result = sweep(service, batch=batch, limit=limit)
    finally:
        if profiler is not None:
            profiler.disable()
        engine.dispose()
    ended, cpu, (busy_after, _) = time.monotonic(), time.process_time() - cpu, busy_cpu()
    return Run(result, started, ended, cpu, (busy, busy_after),
               layers(profiler) if profiler else "")


# Own time by where the code lives; psycopg's includes waiting for the server's answers.
LAYERS = (("/engine/persistence/", "qmsflow persistence"),
          ("/engine/", "qmsflow engine (pure)"), ("sqlalchemy", "SQLAlchemy"),
          ("psycopg", "psycopg (and the server)"), ("jinja2", "Jinja2"), ("json", "json"),
          ("hashlib", "hashing"))


def layers(profiler: cProfile.Profile) -> str:
    """Own time by layer, then the functions with the most own time."""
    stats = pstats.Stats(profiler)
    own: dict[str, float] = defaultdict(float)
    total = 0.0
    for (filename, _, name), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{filename} {name}"
        layer = next((label for key, label in LAYERS if key in where), "other")
        own[layer] += tottime
        total += tottime
    lines = [f"  {label:28} {seconds:7.2f} s  {seconds / total:5.1%}"
             for label, seconds in sorted(own.items(), key=lambda item: -item[1])]
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
    cumulative = io.StringIO()
    pstats.Stats(profiler, stream=cumulative).sort_stats("cumulative").print_stats(
        r"persistence|escalation|effects|outbox|audit|store")
    return ("own time by layer:\n" + "\n".join(lines) + "\n" + text.getvalue()
            + cumulative.getvalue())


def run(url: str, moment: datetime, workers: int, batch: int, limit: int | None = None,
        profile: bool = False) -> tuple[float, list[Run]]:
    """``workers`` sweeper processes at once; seconds from their start to the last end."""
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, ProcessPoolExecutor(workers, mp_context=spawn) as pool:
        start = manager.Barrier(workers)
        futures = [pool.submit(worker, url, moment, batch, limit, start, profile)
                   for _ in range(workers)]
        runs = [future.result() for future in futures]
    return max(r.ended for r in runs) - min(r.started for r in runs), runs


def report(label: str, seconds: float, runs: list[Run], clocks: int) -> None:
    escalated = sum(r.result.escalated for r in runs)
    levels = sum(r.result.warnings + r.result.breaches for r in runs)
    batches = sum(r.result.batches for r in runs)
    failed = sum(len(r.result.failures) for r in runs)
    print(f"{label}: {seconds:7.1f} s  {clocks / seconds:8,.0f} clocks/s  "
          f"{escalated / seconds:7,.0f} cases/s  ({escalated:,} cases, {levels:,} "
          f"warnings+breaches, {batches:,} batches, {failed} failed; per worker: "
          f"{', '.join(f'{r.result.escalated:,}' for r in runs)} cases)")
    if escalated:
        # Where a case's cost goes: the workers' own CPU, and the whole machine's (the database
        # server's is most of the difference). Both move with the shared host's speed too.
        own = sum(r.cpu for r in runs) / escalated * 1000
        machine = (max(r.busy[1] for r in runs) - min(r.busy[0] for r in runs)) / escalated
        print(f"  CPU per case: {own:.2f} ms in the sweepers, {machine * 1000:.2f} ms on the "
              f"whole machine")
    for r in runs:
        for failure in r.result.failures[:5]:
            print(f"  failed: {failure.number}: {failure.reason}")


def verify(url: str, moment: datetime) -> None:
    left, twice = check_done(url, moment)
    if left or twice:
        fail(f"after the sweep {left:,} clock(s) are still due and {twice:,} escalation(s) "
             "were recorded twice")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"seeded database ({DEFAULT_URL})")
    parser.add_argument("--due", type=int, default=100_000, help="clocks due at the moment")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="cases per batch")
    parser.add_argument("--workers", type=int, default=4, help="workers of the parallel run")
    parser.add_argument("--min-cases", type=int, default=MIN_CASES)
    parser.add_argument("--profile", action="store_true",
                        help="profile one worker over --profile-cases cases first")
    parser.add_argument("--profile-cases", type=int, default=3000)
    parser.add_argument("--keep", action="store_true", help=f"keep {COPY} at the end")
    args = parser.parse_args()

    cases = check_source(args.url, args.min_cases)
    print(f"seeded database {make_url(args.url).database}: {cases:,} cases")
    try:
        copied = copy_database(args.url)
        moment, clocks, due_cases = choose_moment(args.url, args.due)
        print(f"copy {COPY} made in {copied:.1f} s; at {moment:%Y-%m-%d %H:%M:%S %Z} "
              f"{clocks:,} clocks of {due_cases:,} open cases are due (warning or breach)")
        if args.profile:
            seconds, runs = run(args.url, moment, 1, args.batch, args.profile_cases, True)
            report("profiled 1 worker", seconds, runs, sum(
                r.result.warnings + r.result.breaches for r in runs))
            print(runs[0].profile)
            copy_database(args.url)  # the timed runs start from the full backlog again
        seconds_1, runs_1 = run(args.url, moment, 1, args.batch)
        verify(args.url, moment)
        report("1 worker ", seconds_1, runs_1, clocks)
        copy_database(args.url)
        seconds_n, runs_n = run(args.url, moment, args.workers, args.batch)
        verify(args.url, moment)
        report(f"{args.workers} workers", seconds_n, runs_n, clocks)
    finally:
        if not args.keep:
            drop_copy(args.url)
    print(f"speed-up {args.workers} workers vs 1: {seconds_1 / seconds_n:.2f}x; "
          f"checked: nothing left due, nothing escalated twice")
    print(f"{args.workers}-worker time / {TARGET:.0f} s target for {clocks:,} due clocks: "
          f"{seconds_n / TARGET:.2f}")


if __name__ == "__main__":
    main()
