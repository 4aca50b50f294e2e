"""Benchmark: steps per second on PostgreSQL as writers are added, each on its own cases.

Each writer is a process with its own engine and ``CaseService``, stepping its own open service
requests in ``workshop_repair`` (``provide_loaner`` then ``return_loaner``, again and again:
both keep the case where it is), each step all or nothing, as fast as it can. Writers never
share a case, so anything that makes them wait for each other is the write path's own doing.
The audit sealer runs beside them in its own process, every second, as ``qmsflow worker`` does,
so its cost is in the figures. After an untimed warm-up run, for 1, 2, 4 and 8 writers
(``--writers``), all start together and run ``--seconds``; the figures are the steps all of
them committed in that time.

Run bench/seed.py first (``--fresh`` whenever the schema changed). The database stays valid:
every entry written is sealed at the end and ``audit.verify`` would pass. The machine has 2
cores: beyond 2 writers, more processes share them. Figures on a shared machine vary by
+-30% between runs; compare within one run. The last line is the ratios: 2 writers against 1
(target >= 1.8) and 8 writers against 2 (target >= 1.0), and beside the latter the same ratio
for a control run after the writers (:func:`plain_client`): plain psycopg clients of the same
server taking a step's two round trips and as much CPU as the 2 writers' steps took, with no
qmsflow code. What 8 of those lose against 2 is what these cores charge for more processes,
whatever the code; what the writers lose beyond it is qmsflow's own.

Run:
    .venv/bin/python bench/seed.py --fresh
    .venv/bin/python bench/writers_bench.py [--seconds 10] [--writers 1,2,4,8]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import resource
import time
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
from seed import libpq, require_current_schema  # bench/ is on the path of a bench script
from sqlalchemy import select
from sqlalchemy.engine import make_url

from qmsflow.engine.loader import load
from qmsflow.engine.persistence.db import connect, session_factory
from qmsflow.engine.persistence.models import AuditEvent, CaseRow
from qmsflow.engine.persistence.service import CaseService
from qmsflow.engine.persistence.versions import Versions

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = ROOT / "definitions" / "default"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/qmsflow_bench"
PROCESS, STATE, USER = "service_request", "workshop_repair", "technical.user"
#: Cases per run, shared out among its writers: every run's cases take about as many steps
#: each, whatever the number of writers (a case's data grows with its steps, and so does the
#: cost of the next one). Each run takes cases no earlier run of this bench touched.
CASES_PER_RUN = 400
WARM = 20  # steps per writer before the clock starts
WARM_SECONDS = 5.0  # one untimed run with 2 writers before the timed ones


def service_for(url: str) -> CaseService:
    return CaseService(session_factory(connect(url, pool_size=1)), Versions(), load(DEFAULT_SET))


def step(service: CaseService, number: str, out: bool, index: int) -> None:
    """Hand out or take back the case's loaner: either keeps the case in the workshop."""
    if out:
        service.apply_step(number, "return_loaner", USER, {}, client="bench-writers")
    else:
        service.apply_step(number, "provide_loaner", USER,
                           {"loaner_serial": f"W-{index:07d}"}, client="bench-writers")


class Spent(NamedTuple):
    """What one writer's steps cost its own process: CPU seconds in Python and in the kernel,
    and how often it gave up its core (waiting for the server) or had it taken away (another
    process's turn)."""

    steps: int
    user: float
    system: float
    voluntary: int
    involuntary: int


def writer(url: str, numbers: list[str], start: Barrier, stop: Event,
           results: multiprocessing.Queue[Spent]) -> None:
    """Step ``numbers`` round and round from ``start`` until ``stop``; put what they cost
    the writer's own process."""
    service = service_for(url)
    with service.transaction() as session:
        out = {row.number: "loaner_out" in (row.flags or []) for row in session.execute(
            select(CaseRow).where(CaseRow.number.in_(numbers))).scalars()}
    done = 0
    for _ in range(WARM):
        number = numbers[done % len(numbers)]
        step(service, number, out[number], done)
        out[number] = not out[number]
        done += 1
    start.wait()
    counted = 0
    before = resource.getrusage(resource.RUSAGE_SELF)
    while not stop.is_set():
        number = numbers[done % len(numbers)]
        step(service, number, out[number], done)
        out[number] = not out[number]
        done += 1
        counted += 1
    after = resource.getrusage(resource.RUSAGE_SELF)
    results.put(Spent(counted, after.ru_utime - before.ru_utime,
                      after.ru_stime - before.ru_stime, after.ru_nvcsw - before.ru_nvcsw,
                      after.ru_nivcsw - before.ru_nivcsw))


def plain_client(url: str, numbers: list[str], start: Barrier, stop: Event,
                 results: multiprocessing.Queue[Spent], work: int) -> None:
    """The control: a plain psycopg client doing a step's outline with none of qmsflow's code.

    Each iteration reads one of ``numbers``' case documents (a round trip), encodes and decodes
    it ``work`` times (see :func:`work_for`), hashes it, and sends the text back to be parsed
    as JSON (a second round trip, nothing written)."""
    with psycopg.connect(libpq(url), autocommit=True) as connection:
        cursor = connection.cursor()
        start.wait()
        done = 0
        before = resource.getrusage(resource.RUSAGE_SELF)
        while not stop.is_set():
            found: Any = cursor.execute('SELECT data, "values" FROM cases WHERE number = %s',
                                        (numbers[done % len(numbers)],)).fetchone()
            document = {"data": found[0], "values": found[1]}
            for _ in range(work - 1):
                json.loads(json.dumps(document, sort_keys=True))
            text = json.dumps(document, sort_keys=True)
            hashlib.sha256(text.encode()).hexdigest()
            cursor.execute("SELECT length(%s::jsonb::text)", (text,)).fetchone()
            done += 1
        after = resource.getrusage(resource.RUSAGE_SELF)
    results.put(Spent(done, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime,
                      after.ru_nvcsw - before.ru_nvcsw, after.ru_nivcsw - before.ru_nivcsw))


def work_for(url: str, number: str, cpu: float) -> int:
    """How many JSON round trips of case ``number``'s document take ``cpu`` seconds of CPU
    here: the control's work per iteration, to weigh what a step weighs."""
    with psycopg.connect(libpq(url)) as connection:
        found: Any = connection.execute('SELECT data, "values" FROM cases WHERE number = %s',
                                        (number,)).fetchone()
    began = time.process_time()
    for _ in range(200):
        json.loads(json.dumps({"data": found[0], "values": found[1]}, sort_keys=True))
    return max(1, round(cpu / ((time.process_time() - began) / 200)))


class Measured(NamedTuple):
    """A run's steps (or the control's iterations) per second, and the CPU seconds each took
    its own process."""

    rate: float
    cpu: float


def sealer(url: str, start: Barrier, stop: Event,
           results: multiprocessing.Queue[tuple[int, int]]) -> None:
    """Seal every second, as the worker does; put (entries sealed, runs left busy)."""
    service = service_for(url)
    start.wait()
    sealed = busy = 0
    while not stop.wait(1.0):
        done = service.seal_audit()
        sealed += done.count
        busy += done.busy
    results.put((sealed, busy))


def busy_cpu() -> tuple[float, int]:
    """Seconds of CPU time the whole machine has spent busy (every process: writers, the
    database server, the sealer, anything else), from /proc/stat, and the number of CPUs."""
    ticks = os.sysconf("SC_CLK_TCK")
    lines = Path("/proc/stat").read_text().splitlines()
    # user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
    fields = [int(n) for n in lines[0].split()[1:]]
    cpus = sum(1 for line in lines if line.startswith("cpu") and line[3].isdigit())
    return (sum(fields) - fields[3] - fields[4]) / ticks, cpus


def run(url: str, numbers: list[str], writers: int, seconds: float, quiet: bool = False,
        control: int = 0) -> Measured:
    """Steps per second of ``writers`` writers on ``numbers`` over ``seconds``, the sealer
    beside them (``quiet``: a warm-up, not printed; ``control``: as many plain clients, each
    doing that much work per iteration (:func:`plain_client`), and no sealer)."""
    share = len(numbers) // writers
    context = multiprocessing.get_context("spawn")
    start, stop = context.Barrier(writers + (1 if control else 2)), context.Event()
    counts: multiprocessing.Queue[Spent] = context.Queue()
    seals: multiprocessing.Queue[tuple[int, int]] = context.Queue()
    processes = [
        context.Process(target=plain_client, args=(
            url, numbers[i * share:(i + 1) * share], start, stop, counts, control))
        if control else context.Process(target=writer, args=(
            url, numbers[i * share:(i + 1) * share], start, stop, counts))
        for i in range(writers)]
    if not control:
        processes.append(context.Process(target=sealer, args=(url, start, stop, seals)))
    for process in processes:
        process.start()
    start.wait()
    began, (busy_before, cpus) = time.perf_counter(), busy_cpu()
    time.sleep(seconds)
    stop.set()
    done = [counts.get() for _ in range(writers)]
    elapsed = time.perf_counter() - began
    machine = busy_cpu()[0] - busy_before
    steps = sum(spent.steps for spent in done)
    user, system = (sum(s.user for s in done) / steps, sum(s.system for s in done) / steps)
    switches = (sum(s.voluntary for s in done) / steps, sum(s.involuntary for s in done) / steps)
    sealed, busy = (0, 0) if control else seals.get()
    for process in processes:
        process.join()
    rate = steps / elapsed
    measured = Measured(rate, user + system)
    if quiet:
        return measured
    if control:
        print(f"  control, {writers} plain clients: {steps:6,} iterations in {elapsed:5.1f} s = "
              f"{rate:7.1f} per s; their own CPU {(user + system) * 1000:.2f} ms per iteration "
              f"(user {user * 1000:.2f}); preempted {switches[1]:.1f} times per iteration")
        return measured
    print(f"  {writers} writer(s): {steps:6,} steps in {elapsed:5.1f} s = {rate:7.1f} steps/s "
          f"({rate / writers:6.1f} per writer); sealer: {sealed:,} entries sealed alongside, "
          f"{busy} run(s) deferred")
    print(f"    writers' own CPU {(user + system) * 1000:.2f} ms per step (user "
          f"{user * 1000:.2f}, kernel {system * 1000:.2f}); their context switches per step: "
          f"{switches[0]:.1f} waiting, {switches[1]:.1f} preempted")
    # What bounds the rate: every step costs the machine this much CPU in all (the writer,
    # its server process, the sealer's share); the cores cannot do more steps than this allows.
    print(f"    machine CPU busy {machine / elapsed:.2f} of {cpus} cores; "
          f"{machine / steps * 1000:.2f} ms CPU per step in all processes; "
          f"most the cores allow at that cost: {cpus * steps / machine:,.0f} steps/s")
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--writers", default="1,2,4,8",
                        help="writer counts to run, comma-separated (must include 1, 2 and 8 "
                             "for the ratios)")
    args = parser.parse_args()
    counts = [int(n) for n in args.writers.split(",")]
    engine = connect(args.url)
    require_current_schema(engine)
    wanted = (len(counts) + 1) * CASES_PER_RUN  # and one run to warm the server up
    with session_factory(engine)() as session:
        touched = select(AuditEvent.id).where(AuditEvent.case_id == CaseRow.id,
                                              AuditEvent.client.like("bench-%")).exists()
        numbers = list(session.execute(
            select(CaseRow.number).where(CaseRow.process == PROCESS, CaseRow.state == STATE,
                                         CaseRow.closed_at.is_(None),
                                         CaseRow.voided_at.is_(None), ~touched)
            .order_by(CaseRow.id.desc()).limit(wanted)).scalars())
    engine.dispose()
    if len(numbers) < wanted:
        raise SystemExit(f"needs {wanted} open {PROCESS} cases in {STATE} that no bench "
                         f"touched, the database has {len(numbers)}: seed it again "
                         "(bench/seed.py --fresh)")
    print(f"database: {make_url(args.url).database}; {CASES_PER_RUN} fresh cases per run "
          f"shared among its writers, {args.seconds:.0f} s per run, the sealer every second "
          "beside them")
    # Untimed: the first timed run would otherwise also pay for the server's cold caches.
    run(args.url, numbers[-CASES_PER_RUN:], 2, WARM_SECONDS, quiet=True)
    runs = {n: run(args.url, numbers[i * CASES_PER_RUN:(i + 1) * CASES_PER_RUN], n,
                   args.seconds) for i, n in enumerate(counts)}
    service = service_for(args.url)
    print(f"  sealed at the end: {service.seal_audit().count:,} entries")
    if not {1, 2, 8} <= runs.keys():
        return
    # The control reads cases but writes none: it may use the warm-up's.
    work = work_for(args.url, numbers[-1], runs[2].cpu)
    plain = {n: run(args.url, numbers[-CASES_PER_RUN:], n, args.seconds, control=work).rate
             for n in (2, 8)}
    rates = {n: measured.rate for n, measured in runs.items()}
    print(f"ratios: 2 writers / 1 writer: {rates[2] / rates[1]:.2f} (target >= 1.8); "
          f"8 writers / 2 writers: {rates[8] / rates[2]:.2f} (target >= 1.0; "
          f"the control, 8 / 2: {plain[8] / plain[2]:.2f})")


if __name__ == "__main__":
    main()
