"""Benchmark: the case service on a seeded PostgreSQL database, against raw SQL doing the same.

Run bench/seed.py first. Then, measured in the same run on that database:

(a) apply-action throughput: ``CaseService.apply_action`` taking ``provide_loaner`` (a step
    without signature that keeps the case in ``workshop_repair``) on distinct open service
    requests, one transaction each; against the floor: the same writes done with psycopg
    (the new row values and audit rows computed beforehand by the engine, untimed): one
    ``UPDATE cases ... WHERE id = .. AND row_version = ..``, one multi-row ``INSERT`` of the
    audit rows the service writes per action (hashes chained right), one commit. Also shown:
    raw SQL issuing every statement the service issues (its reads, clock updates, audit head
    lock and update), so the gap splits into "more statements" and "Python/ORM per statement".
(b) a user's inbox: ``CaseService.list_cases`` (their open cases and their roles' queues,
    soonest due first, first page of 50; it also counts the matches for paging) for the user
    whose queue is largest, p50/p95 over many runs; the very SQL it sends, replayed with
    psycopg, side by side; the share of the COUNT; EXPLAIN ANALYZE of both statements and
    whether they use the inbox indexes.

Options: ``--profile`` times apply_action's phases (collaborators wrapped in timers) and prints
a cProfile summary by layer; ``--try-indexes`` builds a proposed pair of partial indexes for the
inbox inside a transaction, times the rewritten page and count queries, and rolls it back.

Each run takes the open workshop_repair cases least recently changed (a rerun uses fresh ones
until they run out) and leaves the database valid: every audit entry written, by the service
or by the raw SQL, chains correctly (``audit.verify`` passes). Figures on a shared 2-core
machine vary by +-30% between runs; compare within one run. The last line is the ratio of
service to raw-floor apply throughput.

Run:
    .venv/bin/python bench/seed.py --fresh               # once: 1,000,000 cases
    .venv/bin/python bench/persistence_bench.py          # default database qmsflow_bench
    .venv/bin/python bench/persistence_bench.py --profile --try-indexes --show-plans
    .venv/bin/python bench/persistence_bench.py --url postgresql+psycopg://postgres@host/db
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import psycopg
from sqlalchemy import event, select
from sqlalchemy.engine import Engine, make_url

from qmsflow.engine import machine
from qmsflow.engine.cases import Actor
from qmsflow.engine.loader import load
from qmsflow.engine.persistence import audit, store, users
from qmsflow.engine.persistence.db import connect, session_factory
from qmsflow.engine.persistence.models import CaseRow, User
from qmsflow.engine.persistence.service import CaseService, Filters
from qmsflow.engine.persistence.versions import Versions

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = ROOT / "definitions" / "default"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/qmsflow_bench"
PROCESS, STATE, ACTION, ROLE = "service_request", "workshop_repair", "provide_loaner", "technical"
INBOX_INDEXES = ("ix_cases_inbox_role", "ix_cases_inbox_user")


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pct(times: Sequence[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


class Statements:
    """Counts and times what SQLAlchemy sends, by kind of statement."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        self.count: Counter[str] = Counter()
        self.time: defaultdict[str, float] = defaultdict(float)
        self.log: list[tuple[str, Any]] = []
        self._started = 0.0

        @event.listens_for(engine, "before_cursor_execute")
        def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
                   many: bool) -> None:
            self._started = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
                  many: bool) -> None:
            if not self.on:
                return
            kind = self.kind(statement)
            self.count[kind] += 1
            self.time[kind] += time.perf_counter() - self._started
            self.log.append((statement, params))

        @event.listens_for(engine, "commit")
        def commit(conn: Any) -> None:
            if self.on:
                self.count["COMMIT"] += 1

        @event.listens_for(engine, "rollback")
        def rollback(conn: Any) -> None:
            if self.on:
                self.count["ROLLBACK"] += 1

    @staticmethod
    def kind(statement: str) -> str:
        text = " ".join(statement.split())
        verb = text.split(" ", 1)[0].upper()
        if verb == "UPDATE":
            return f"UPDATE {text.split()[1]}"
        if verb == "INSERT":
            return f"INSERT {text.split()[2]}"
        if verb == "SELECT":
            if "count(*)" in text.lower():
                return "SELECT count"
            found = re.search(r"\bFROM (\w+)", text, re.IGNORECASE)
            return f"SELECT {found.group(1) if found else '?'}" + (
                " FOR UPDATE" if text.upper().endswith("FOR UPDATE") else "")
        return verb

    @contextmanager
    def recording(self) -> Iterator[None]:
        self.count.clear()
        self.time.clear()
        self.log.clear()
        self.on = True
        try:
            yield
        finally:
            self.on = False


# -- (a) apply-action throughput --------------------------------------------------------------


@dataclass
class RawAction:
    """One action's writes, computed by the engine beforehand (not timed)."""

    case_id: int
    number: str
    read_version: int
    read_audit: tuple[int, str]  # the case's audit count and hash before the action
    row: dict[str, Any]  # the new column values
    clocks: list[dict[str, Any]]  # changed clock rows
    audit_rows: list[tuple[Any, ...]]


UPDATE_CASE = """UPDATE cases SET state = %s, priority = %s, category = %s, flags = %s::json,
 assignee_role = %s, assignee = %s, next_due_at = %s, "values" = %s::json, data = %s::json,
 row_version = %s, audit_count = %s, audit_hash = %s, updated_at = %s, closed_at = %s
 WHERE id = %s AND row_version = %s"""
AUDIT_FIELDS = ("id", "case_id", "case_seq", "case_number", "at", "actor_id", "actor_name",
                "action", "entity", "field", "old", "new", "reason", "meaning", "version",
                "client", "data", "prev_hash", "case_prev_hash", "hash")
AUDIT_JSON = {"old", "new", "data"}


def audit_insert(rows: int) -> str:
    one = "(" + ", ".join("%s::json" if f in AUDIT_JSON else "%s" for f in AUDIT_FIELDS) + ")"
    names = ", ".join(f'"{f}"' for f in AUDIT_FIELDS)
    return f"INSERT INTO audit_events ({names}) VALUES " + ", ".join([one] * rows)


def prepare_raw(service: CaseService, numbers: Sequence[str], actor: Actor, now: datetime,
                head: tuple[int, str]) -> tuple[list[RawAction], tuple[int, str]]:
    """What each action writes: the engine decides, exactly as the service would."""
    actions = []
    last_id, last_hash = head
    with service.sessions() as session:
        rows = session.execute(select(CaseRow).where(CaseRow.number.in_(numbers))).scalars()
        by_number = {row.number: row for row in rows}
        for index, number in enumerate(numbers):
            row = by_number[number]
            definition = service.versions.get(session, row.version)
            old = store.to_case(definition, row)
            outcome = machine.apply(definition, old, ACTION, actor,
                                    {"loaner_serial": f"RAW-LOAN-{index:06d}"}, now)
            entries = CaseService._entries(cast(Any, None), definition, outcome, actor)
            seq, case_hash = row.audit_count, row.audit_hash
            audit_rows = []
            for entry in entries:
                last_id += 1
                seq += 1
                record: dict[str, Any] = {
                    "id": last_id, "case_id": row.id, "case_seq": seq,
                    "case_number": row.number, "at": entry.at.astimezone(UTC),
                    "actor_id": entry.actor_id, "actor_name": entry.actor_name,
                    "action": entry.action, "entity": entry.entity, "field": entry.field,
                    "old": audit.jsonable(entry.old), "new": audit.jsonable(entry.new),
                    "reason": entry.reason, "meaning": entry.meaning, "version": entry.version,
                    "client": "bench-raw", "data": audit.jsonable(entry.data),
                    "prev_hash": last_hash, "case_prev_hash": case_hash}
                record["hash"] = last_hash = case_hash = audit.entry_hash(record)
                audit_rows.append(tuple(json.dumps(record[f]) if f in AUDIT_JSON
                                        else record[f] for f in AUDIT_FIELDS))
            columns = store.columns(definition, outcome.case)
            new = {name: columns[name] for name in (
                "state", "priority", "category", "assignee_role", "assignee", "next_due_at",
                "row_version", "updated_at", "closed_at")}
            new.update(flags=json.dumps(columns["flags"]), values=json.dumps(columns["values"]),
                       data=json.dumps(columns["data"]), audit_count=seq, audit_hash=case_hash)
            clocks = [store.clock_columns(row.id, clock)
                      for cid, clock in outcome.case.clocks.items()
                      if old.clocks.get(cid) != clock]
            actions.append(RawAction(row.id, row.number, row.row_version,
                                     (row.audit_count, row.audit_hash), new, clocks, audit_rows))
    return actions, (last_id, last_hash)


def raw_floor(conn: psycopg.Connection[Any], actions: Sequence[RawAction]) -> float:
    """Per action: the case UPDATE with its version check, one audit INSERT, commit."""
    started = time.perf_counter()
    for action in actions:
        new = action.row
        with conn.transaction():
            updated = conn.execute(UPDATE_CASE, (
                new["state"], new["priority"], new["category"], new["flags"],
                new["assignee_role"], new["assignee"], new["next_due_at"], new["values"],
                new["data"], new["row_version"], new["audit_count"], new["audit_hash"],
                new["updated_at"], new["closed_at"], action.case_id, action.read_version))
            if updated.rowcount != 1:
                raise RuntimeError(f"raw update of {action.number} found no row")
            conn.execute(audit_insert(len(action.audit_rows)),  # type: ignore[arg-type]
                         [v for r in action.audit_rows for v in r])
    return time.perf_counter() - started


def raw_same_statements(conn: psycopg.Connection[Any], actions: Sequence[RawAction],
                        user: str) -> float:
    """Every statement the service sends per action, in raw SQL.

    The service's sequence when this was written (it prints its own below, check they
    agree): read the case, read the user, UPDATE the case, UPDATE each changed clock, read
    the signatures, lock the audit head, INSERT the entries, UPDATE the head, UPDATE the
    case's audit count and hash, commit.
    """
    started = time.perf_counter()
    for action in actions:
        new = action.row
        with conn.transaction():
            conn.execute("SELECT * FROM cases WHERE number = %s", (action.number,)).fetchone()
            conn.execute("SELECT * FROM users WHERE id = %s", (user,)).fetchone()
            updated = conn.execute(UPDATE_CASE, (
                new["state"], new["priority"], new["category"], new["flags"],
                new["assignee_role"], new["assignee"], new["next_due_at"], new["values"],
                new["data"], new["row_version"], action.read_audit[0], action.read_audit[1],
                new["updated_at"], new["closed_at"], action.case_id, action.read_version))
            if updated.rowcount != 1:
                raise RuntimeError(f"raw update of {action.number} found no row")
            for clock in action.clocks:
                conn.execute(
                    "UPDATE case_clocks SET variant = %s, status = %s, due_at = %s, warn_at = %s,"
                    " warned = %s, breached = %s WHERE case_id = %s AND clock = %s",
                    (clock["variant"], clock["status"], clock["due_at"], clock["warn_at"],
                     clock["warned"], clock["breached"], clock["case_id"], clock["clock"]))
            conn.execute("SELECT * FROM signatures WHERE case_id = %s AND invalidated_at IS "
                         "NULL", (action.case_id,)).fetchall()
            conn.execute("SELECT last_id, last_hash FROM audit_head WHERE id = 1 FOR UPDATE"
                         ).fetchone()
            conn.execute(audit_insert(len(action.audit_rows)),  # type: ignore[arg-type]
                         [v for r in action.audit_rows for v in r])
            last = action.audit_rows[-1]
            conn.execute("UPDATE audit_head SET last_id = %s, last_hash = %s WHERE id = 1",
                         (last[0], last[-1]))
            conn.execute("UPDATE cases SET audit_count = %s, audit_hash = %s WHERE id = %s AND "
                         "row_version = %s", (new["audit_count"], new["audit_hash"],
                                              action.case_id, new["row_version"]))
    return time.perf_counter() - started


def set_head(conn: psycopg.Connection[Any], head: tuple[int, str]) -> None:
    with conn.transaction():
        conn.execute("UPDATE audit_head SET last_id = %s, last_hash = %s WHERE id = 1", head)


def read_head(conn: psycopg.Connection[Any]) -> tuple[int, str]:
    found = conn.execute("SELECT last_id, last_hash FROM audit_head WHERE id = 1").fetchone()
    conn.commit()
    assert found is not None
    return int(found[0]), str(found[1])


def service_run(service: CaseService, numbers: Sequence[str], user: str, tag: str) -> float:
    started = time.perf_counter()
    for index, number in enumerate(numbers):
        service.apply_action(number, ACTION, user, {"loaner_serial": f"{tag}-{index:06d}"},
                             client="bench-service")
    return time.perf_counter() - started


def profile_service(service: CaseService, numbers: Sequence[str], user: str) -> str:
    """cProfile of service actions: the top functions, and time by layer."""
    profiler = cProfile.Profile()
    profiler.enable()
    service_run(service, numbers, user, "PROF")
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    total = stats.total_tt  # type: ignore[attr-defined]
    layers: defaultdict[str, float] = defaultdict(float)
    raw_stats = stats.stats  # type: ignore[attr-defined]
    for (filename, _, name), (_, _, tottime, _, _) in raw_stats.items():
        layers[layer(filename, name)] += tottime
    lines = [f"  profile of {len(numbers)} service actions: {total:.2f} s "
             f"({total / len(numbers) * 1000:.2f} ms/action incl. profiler overhead); "
             "own time by layer:"]
    for name, spent in sorted(layers.items(), key=lambda x: -x[1]):
        lines.append(f"    {name:34} {spent / total:6.1%}  {spent / len(numbers) * 1000:6.2f} ms")
    stats.sort_stats("cumulative").print_stats(25)
    lines.append("  top by cumulative time:")
    lines += ["    " + line for line in out.getvalue().splitlines()
              if line.strip() and ("/" in line or "{" in line or "ncalls" in line)][:27]
    return "\n".join(lines)


PHASES = (  # (label, owner, attribute): what apply_action calls, timed by wrapping it
    ("_load: SELECT case (ORM) + its definition version", CaseService, "_load"),
    ("_actor: SELECT user (ORM)", CaseService, "_actor"),
    ("store.to_case: row JSON -> engine Case", store, "to_case"),
    ("machine.apply: the engine (rules, effects, clocks)", machine, "apply"),
    ("_check_user_fields", CaseService, "_check_user_fields"),
    ("_entries: events -> audit entries", CaseService, "_entries"),
    ("store.update_case: columns, ORM flush, case_clocks", store, "update_case"),
    ("_signed: SELECT signatures (invalidate)", CaseService, "_signed"),
    ("_open_linked", CaseService, "_open_linked"),
    ("audit.append: head lock, hashes, INSERT, 2 UPDATEs", audit, "append"),
)


def phase_times(service: CaseService, numbers: Sequence[str], user: str) -> str:
    """Where apply_action's time goes, without a profiler: each collaborator wrapped in a
    timer; the rest is session/transaction handling (pool checkout and ping, BEGIN, COMMIT)."""
    spent: defaultdict[str, float] = defaultdict(float)
    calls: Counter[str] = Counter()
    saved = []
    for label, owner, name in PHASES:
        original = getattr(owner, name)
        saved.append((owner, name, original))

        def timer(*args: Any, _f: Any = original, _label: str = label, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return _f(*args, **kwargs)
            finally:
                spent[_label] += time.perf_counter() - started
                calls[_label] += 1
        setattr(owner, name, timer)
    try:
        total = service_run(service, numbers, user, "PHASE")
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)
    n = len(numbers)
    lines = [f"  apply_action by phase, {n} actions, no profiler: {total / n * 1000:.2f} ms "
             "per action"]
    for label, _, _ in PHASES:
        if calls[label]:
            lines.append(f"    {label:52} {spent[label] / n * 1000:6.2f} ms "
                         f"({calls[label] / n:.0f} call(s))")
    rest = total - sum(spent.values())
    lines.append(f"    {'rest: session, pool checkout + ping, BEGIN, COMMIT':52} "
                 f"{rest / n * 1000:6.2f} ms")
    return "\n".join(lines)


def layer(filename: str, name: str) -> str:
    if "sqlalchemy" in filename:
        return "SQLAlchemy (ORM, core, dialect)"
    if "psycopg" in filename:
        return "psycopg (driver)"
    if "json" in filename or "json" in name:
        return "json (de)serialise"
    if "/engine/persistence/" in filename:
        return "qmsflow persistence"
    if "/engine/" in filename:
        return "qmsflow engine (rules, clocks)"
    if "hashlib" in name or "sha256" in name:
        return "hashing"
    if filename == "~" and ("poll" in name or "wait" in name or "execute" in name or
                            "recv" in name or "send" in name or "PQ" in name):
        return "waiting on the server (I/O)"
    if "zoneinfo" in filename or "datetime" in name or "isoformat" in name:
        return "datetime"
    return "other (stdlib, builtins)"


# -- (b) the inbox ---------------------------------------------------------------------------


def timed(runs: int, work: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return times


def explain(conn: psycopg.Connection[Any], statement: str, params: Any) -> list[str]:
    rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}",  # type: ignore[arg-type]
                        params).fetchall()
    conn.rollback()
    return [r[0] for r in rows]


def plan_summary(lines: Sequence[str]) -> str:
    text = "\n".join(lines)
    used = [name for name in INBOX_INDEXES if name in text]
    others = sorted({line.split(" using ")[1].split()[0] for line in lines
                     if " using " in line and not any(n in line for n in INBOX_INDEXES)})
    seq = "Seq Scan on cases" in text
    parts = [f"inbox indexes used: {', '.join(used) or 'NONE'}"]
    if others:
        parts.append(f"other indexes: {', '.join(others)}")
    parts.append("SEQ SCAN on cases" if seq else "no seq scan")
    if "Sort" in text:
        method = next((line.strip() for line in lines if "Sort Method" in line), "sort")
        parts.append(method)
    return "; ".join(parts)


PROPOSED_INDEXES = (
    "CREATE INDEX ix_cases_open_role ON cases (assignee_role, next_due_at, id) "
    "WHERE closed_at IS NULL AND voided_at IS NULL",
    "CREATE INDEX ix_cases_open_user ON cases (assignee, next_due_at, id) "
    "INCLUDE (assignee_role) WHERE closed_at IS NULL AND voided_at IS NULL",
)
# One ordered, limited index scan per queue (each role, and the person), merged: no sort of the
# whole queue. PostgreSQL sorts NULLs last in ascending order, as "next_due_at IS NULL" does.
PROPOSED_PAGE = """
SELECT * FROM cases WHERE id IN (
  SELECT id FROM (
    (SELECT id, next_due_at FROM cases WHERE assignee = %(user)s
       AND closed_at IS NULL AND voided_at IS NULL ORDER BY next_due_at, id LIMIT %(upto)s)
    UNION ALL
    (SELECT id, next_due_at FROM cases WHERE assignee_role = %(role)s
       AND closed_at IS NULL AND voided_at IS NULL ORDER BY next_due_at, id LIMIT %(upto)s)
  ) AS queues ORDER BY next_due_at, id LIMIT %(upto)s)
ORDER BY next_due_at, id LIMIT %(limit)s OFFSET %(offset)s"""
# Index-only scans: the role queue, plus the person's cases not already in it.
PROPOSED_COUNT = """
SELECT (SELECT count(*) FROM cases WHERE assignee_role = %(role)s
          AND closed_at IS NULL AND voided_at IS NULL)
     + (SELECT count(*) FROM cases WHERE assignee = %(user)s
          AND closed_at IS NULL AND voided_at IS NULL
          AND (assignee_role IS NULL OR assignee_role <> %(role)s))"""


def try_indexes(conn: psycopg.Connection[Any], role: str, user: str, runs: int,
                show: bool) -> None:
    """The proposal for the inbox, measured on this database and rolled back."""
    params = {"user": user, "role": role, "upto": 50, "limit": 50, "offset": 0}
    print("  proposal (built in a transaction, rolled back afterwards):")
    with conn.transaction(force_rollback=True):
        started = time.perf_counter()
        for statement in PROPOSED_INDEXES:
            print(f"    {statement}")
            conn.execute(statement)  # type: ignore[arg-type]
        conn.execute("ANALYZE cases")
        print(f"    (built in {time.perf_counter() - started:.1f} s)")
        page = timed(runs, lambda: conn.execute(PROPOSED_PAGE, params).fetchall())
        count = timed(runs, lambda: conn.execute(PROPOSED_COUNT, params).fetchone())
        found = conn.execute(PROPOSED_COUNT, params).fetchone()
        print(f"    page, one index scan per queue merged: p50 {ms(pct(page, .5))}  "
              f"p95 {ms(pct(page, .95))}")
        print(f"    COUNT, index-only per queue:           p50 {ms(pct(count, .5))}  "
              f"p95 {ms(pct(count, .95))}  (total {found[0] if found else '?':,})")
        for label, statement in (("page", PROPOSED_PAGE), ("count", PROPOSED_COUNT)):
            plan = [r[0] for r in conn.execute(
                f"EXPLAIN (ANALYZE, BUFFERS) {statement}",  # type: ignore[arg-type]
                params).fetchall()]
            used = sorted({n for n in ("ix_cases_open_role", "ix_cases_open_user")
                           if any(n in line for line in plan)})
            only = "Index Only Scan" in "\n".join(plan)
            print(f"    EXPLAIN {label}: uses {', '.join(used) or 'NONE'}"
                  f"{' (index-only)' if only else ''}; "
                  f"{next((x.strip() for x in plan if 'Execution Time' in x), '')}")
            if show:
                print("\n".join("      " + line for line in plan))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--actions", type=int, default=1000,
                        help="actions per side and round for (a)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds for (a)")
    parser.add_argument("--inbox-runs", type=int, default=200)
    parser.add_argument("--profile", action="store_true",
                        help="cProfile 200 service actions and print where the time goes")
    parser.add_argument("--show-plans", action="store_true", help="print the full plans")
    parser.add_argument("--try-indexes", action="store_true",
                        help="(b) also time a proposed index + query rewrite, in a transaction "
                             "that is rolled back (builds two partial indexes: ~30 s)")
    args = parser.parse_args()

    definition = load(DEFAULT_SET)
    engine = connect(args.url)
    sessions = session_factory(engine)
    statements = Statements(engine)
    service = CaseService(sessions, Versions(), definition)
    user = f"{ROLE}.user"
    with sessions() as session:
        account = session.get(User, user)
        if account is None:
            raise SystemExit(f"no user {user}: run bench/seed.py first")
        actor = users.actor(account)
        total_cases = session.execute(select(CaseRow.id).order_by(CaseRow.id.desc()).limit(1)
                                      ).scalar_one_or_none() or 0
        numbers = list(session.execute(
            select(CaseRow.number).where(CaseRow.process == PROCESS, CaseRow.state == STATE,
                                         CaseRow.closed_at.is_(None),
                                         CaseRow.voided_at.is_(None))
            # Least recently changed first: a rerun takes cases earlier runs did not touch.
            .order_by(CaseRow.updated_at, CaseRow.id)).scalars())
    warm = 50
    wanted = args.rounds * 3 * args.actions + 2 * warm + 1 + (400 if args.profile else 0)
    print(f"database: {make_url(args.url).database}, ~{total_cases:,} cases; "
          f"{len(numbers):,} open {PROCESS} cases in {STATE}; "
          f"PostgreSQL via psycopg {psycopg.__version__}")
    if len(numbers) < wanted:
        raise SystemExit(f"(a) needs {wanted} open {STATE} cases, the database has "
                         f"{len(numbers)}: seed more cases or pass fewer --actions")
    pool = iter(numbers)

    def take(n: int) -> list[str]:
        return [next(pool) for _ in range(n)]

    conn = psycopg.connect(libpq(args.url))
    # Warm up both paths (compiled statements, caches, prepared statements).
    service_run(service, take(warm), user, "WARM")
    head = read_head(conn)
    actions, head = prepare_raw(service, take(warm), actor, datetime.now(UTC), head)
    raw_floor(conn, actions)
    set_head(conn, head)

    with statements.recording():
        one = take(1)
        service_run(service, one, user, "COUNT")
    per_action = dict(statements.count)
    sequence = [Statements.kind(s) for s, _ in statements.log]
    stmt_time = sum(statements.time.values())
    before = read_head(conn)[0]
    service_time = raw_time = same_time = 0.0
    driver_time = 0.0
    for _ in range(args.rounds):
        with statements.recording():
            service_time += service_run(service, take(args.actions), user, "SVC")
            driver_time += sum(statements.time.values())
        head = read_head(conn)
        written = (head[0] - before) / args.actions
        actions, head = prepare_raw(service, take(args.actions), actor, datetime.now(UTC), head)
        raw_time += raw_floor(conn, actions)
        set_head(conn, head)
        actions, head = prepare_raw(service, take(args.actions), actor, datetime.now(UTC), head)
        same_time += raw_same_statements(conn, actions, user)
        before = head[0]
    n = args.rounds * args.actions
    rows_per_action = sum(len(a.audit_rows) for a in actions) / len(actions)
    service_rate, raw_rate, same_rate = n / service_time, n / raw_time, n / same_time
    print(f"\n(a) apply '{ACTION}' on {STATE} cases, {n} actions per side "
          f"({args.rounds} alternating rounds), 1 transaction each")
    print(f"  audit rows per action: service {written:.2f}, raw {rows_per_action:.2f} "
          "(varies with the case: a clock or flag that changes adds one)")
    print(f"  service statements per action: {sum(per_action.values())}, time inside the "
          f"driver {ms(stmt_time).strip()}: {' > '.join(sequence)} > COMMIT")
    print(f"  CaseService.apply_action:        {service_rate:8.1f} actions/s "
          f"({ms(service_time / n)} per action: {ms(driver_time / n).strip()} in cursor.execute, "
          f"{ms((service_time - driver_time) / n).strip()} outside it (Python, COMMIT))")
    print(f"  raw SQL, same statements:        {same_rate:8.1f} actions/s "
          f"({ms(same_time / n)} per action)")
    print(f"  raw SQL floor (UPDATE+INSERT+commit): {raw_rate:8.1f} actions/s "
          f"({ms(raw_time / n)} per action)")
    if args.profile:
        print(phase_times(service, take(200), user))
        print(profile_service(service, take(200), user))

    # (b) the inbox of the user with the largest queue.
    with conn.transaction():
        role, queue = conn.execute(
            "SELECT assignee_role, count(*) FROM cases WHERE closed_at IS NULL AND voided_at "
            "IS NULL AND assignee_role IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        ).fetchone() or ("", 0)
    inbox_user = f"{role.replace('_', '.')}.user"
    filters = Filters()
    service.list_cases(inbox_user, filters)  # warm
    with statements.recording():
        page = service.list_cases(inbox_user, filters)
    sent = [(s, p) for s, p in statements.log if s.lstrip().upper().startswith("SELECT")]
    count_sql = next((s, p) for s, p in sent if "count(*)" in s.lower())
    page_sql = next((s, p) for s, p in sent if "LIMIT" in s.upper())
    service_times = []
    count_times = []
    for _ in range(args.inbox_runs):
        with statements.recording():
            started = time.perf_counter()
            service.list_cases(inbox_user, filters)
            service_times.append(time.perf_counter() - started)
        count_times.append(statements.time["SELECT count"])
    raw_page = timed(args.inbox_runs, lambda: (conn.execute(*page_sql).fetchall(),
                                               conn.rollback()))
    raw_count = timed(args.inbox_runs, lambda: (conn.execute(*count_sql).fetchone(),
                                                conn.rollback()))
    raw_both = timed(args.inbox_runs, lambda: (conn.execute(*count_sql).fetchone(),
                                               conn.execute(*page_sql).fetchall(),
                                               conn.rollback()))
    share = sum(count_times) / sum(service_times)
    print(f"\n(b) inbox of {inbox_user} (role {role}: {queue:,} open cases in the queue), "
          f"first page of {len(page.rows)}, total {page.total:,}; {args.inbox_runs} runs")
    print(f"  CaseService.list_cases:     p50 {ms(pct(service_times, .5))}  "
          f"p95 {ms(pct(service_times, .95))}")
    print(f"    of which COUNT(*):        p50 {ms(pct(count_times, .5))}  "
          f"p95 {ms(pct(count_times, .95))}  ({share:.0%} of the service's time)")
    print(f"  raw SQL page (same SQL):    p50 {ms(pct(raw_page, .5))}  "
          f"p95 {ms(pct(raw_page, .95))}")
    print(f"  raw SQL COUNT (same SQL):   p50 {ms(pct(raw_count, .5))}  "
          f"p95 {ms(pct(raw_count, .95))}")
    print(f"  raw SQL COUNT + page:       p50 {ms(pct(raw_both, .5))}  "
          f"p95 {ms(pct(raw_both, .95))}")
    for label, (statement, params) in (("page", page_sql), ("count", count_sql)):
        plan = explain(conn, statement, params)
        print(f"  EXPLAIN {label}: {plan_summary(plan)}; "
              f"{next((x.strip() for x in plan if 'Execution Time' in x), '')}")
        if args.show_plans:
            print("    SQL: " + " ".join(statement.split()))
            print("\n".join("    " + line for line in plan))
    if args.try_indexes:
        try_indexes(conn, role, inbox_user, args.inbox_runs, args.show_plans)
    conn.close()
    engine.dispose()
    print(f"ratio service/raw apply throughput: {service_rate / raw_rate:.2f}")


if __name__ == "__main__":
    main()
