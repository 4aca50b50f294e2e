"""Benchmark: the case service on a seeded PostgreSQL database, against raw SQL doing the same.

Run bench/seed.py first (``--fresh`` whenever the schema changed: the bench refuses a database
whose schema differs from the models). Then, measured in the same run on that database:

(a) apply-action throughput: ``CaseService.apply_step`` taking ``provide_loaner`` (a step
    without signature that keeps the case in ``workshop_repair``) on distinct open service
    requests, each all or nothing (the service reads the case, then sends its one write, which
    commits with itself: see ``db.step``); against the floor: the same writes done with psycopg
    (the new row values and audit rows computed beforehand by the engine, untimed): one
    ``UPDATE cases ... WHERE id = .. AND row_version = ..``, one multi-row ``INSERT`` of the
    audit rows the service writes per action (hashes chained right), one commit. The
    service's statements per action are recorded from SQLAlchemy's events (with the pool's
    pre-ping, and the BEGIN and COMMIT psycopg sends when a transaction is open) and listed
    with the time each spends in the driver.
(b) a user's inbox: ``CaseService.list_cases`` (their open cases and their roles' queues,
    soonest due first, first page of 50; it also counts the matches for paging) for the user
    whose queue is largest, p50/p95 over many runs; the very SQL it sends (captured from
    SQLAlchemy's events), replayed with psycopg, side by side; the share of the count in the
    service's time; the plain query with OR over the queues (page and count), for comparison;
    EXPLAIN ANALYZE of each and which of the inbox's partial indexes it uses.

``--profile`` also shows where apply_step's time goes: by phase (the service's collaborators
wrapped in timers, no profiler) and a cProfile summary by layer.

Each run takes the open workshop_repair cases least recently changed (a rerun uses fresh ones
until they run out: a default run takes ~4,150 of them, ~4,550 with --profile; 1,000,000 seeded
cases hold ~11,000) and leaves the database valid: every audit entry written, by the service or
by the raw SQL, chains correctly (``audit.verify`` passes). Figures on a shared 2-core machine
vary by +-30% between runs; compare within one run. The last line is the ratio of service to
raw-floor apply throughput.

Run:
    .venv/bin/python bench/seed.py --fresh               # once: 1,000,000 cases
    .venv/bin/python bench/persistence_bench.py          # default database qmsflow_bench
    .venv/bin/python bench/persistence_bench.py --profile --show-plans
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import psycopg
from psycopg.pq import TransactionStatus
from seed import libpq, require_current_schema  # bench/ is on the path of a bench script
from sqlalchemy import event, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session
from sqlalchemy.orm.session import SessionTransaction

from qmsflow.engine import machine
from qmsflow.engine.cases import Actor
from qmsflow.engine.loader import load
from qmsflow.engine.persistence import audit, signatures, store, users
from qmsflow.engine.persistence.db import connect, session_factory
from qmsflow.engine.persistence.inbox import COUNT_LIMIT, INBOX
from qmsflow.engine.persistence.models import AuditEvent, CaseRow, User
from qmsflow.engine.persistence.service import CaseService
from qmsflow.engine.persistence.versions import Versions

IDLE = TransactionStatus.IDLE
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = ROOT / "definitions" / "default"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/qmsflow_bench"
PROCESS, STATE, ACTION, ROLE = "service_request", "workshop_repair", "provide_loaner", "technical"
INBOX_INDEXES = ("ix_cases_open_role", "ix_cases_open_user")
WARM = 50  # actions per side to warm up; also the size of the recorded batch


def pct(times: Sequence[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


@dataclass
class Sent:
    """One round trip SQLAlchemy knows of: a statement (or the pool's ping, or BEGIN)."""

    kind: str
    statement: str = ""
    params: Any = None
    rows: int = 1  # parameter sets of an executemany
    seconds: float = 0.0
    trip: bool = True  # False: the end of a transaction that sent no COMMIT


#: Where a transaction ends without a COMMIT: its one write went alone and committed itself.
ENDED = "(no COMMIT: the write committed itself)"


@dataclass
class Statements:
    """Records what SQLAlchemy sends, from its events; listens only while recording."""

    engine: Engine
    log: list[Sent] = field(default_factory=list)
    _started: float = 0.0

    @staticmethod
    def kind(statement: str) -> str:
        text = " ".join(statement.split())
        verb = text.split(" ", 1)[0].upper()
        if verb == "WITH":  # a data-modifying CTE: name every table it writes
            writes = re.findall(r"\b(INSERT INTO|UPDATE|DELETE FROM) (\w+)", text, re.I)
            return "WITH " + " + ".join(f"{v.split()[0].upper()} {t}" for v, t in writes)
        if verb == "UPDATE":
            return f"UPDATE {text.split()[1]}"
        if verb == "INSERT":
            return f"INSERT {text.split()[2]}"
        if verb == "SELECT":
            if "count(*)" in text.lower():
                return "SELECT count"
            found = re.search(r"\bFROM (\w+)", text, re.IGNORECASE)
            kind = f"SELECT {found.group(1) if found else '?'}"
            joined = re.findall(r"\bJOIN (\w+)", text, re.IGNORECASE)
            if joined and "UNION ALL" not in text.upper():
                kind += " JOIN " + ", ".join(joined)
            if "UNION ALL" in text.upper():
                kind += " (UNION ALL of the queues)"
            if text.upper().endswith("FOR UPDATE"):
                kind += " FOR UPDATE"
            return kind
        return verb

    def _checkout(self, *_: Any) -> None:
        if self.engine.pool._pre_ping:  # type: ignore[attr-defined]
            self.log.append(Sent("pool checkout: pre-ping SELECT 1"))

    def _before(self, conn: Any, cursor: Any, *_: Any) -> None:
        # psycopg sends BEGIN itself, as its own round trip, before a statement that finds no
        # transaction open (unless the connection is in autocommit, as a step's reads are).
        driver = cursor.connection
        if not driver.autocommit and driver.info.transaction_status == IDLE:
            self.log.append(Sent("BEGIN (sent by psycopg before the statement)"))
        self._started = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any,
               many: bool) -> None:
        kind = self.kind(statement) + (" (executemany)" if many else "")
        self.log.append(Sent(kind, statement, params, len(params) if many else 1,
                             time.perf_counter() - self._started))

    def _commit(self, conn: Any) -> None:
        # psycopg sends COMMIT only when a transaction is open.
        sent = conn.connection.driver_connection.info.transaction_status != IDLE
        self.log.append(Sent("COMMIT") if sent else Sent(ENDED, trip=False))

    def _listeners(self) -> list[tuple[Any, str, Callable[..., None]]]:
        return [(self.engine.pool, "checkout", self._checkout),
                (self.engine, "before_cursor_execute", self._before),
                (self.engine, "after_cursor_execute", self._after),
                (self.engine, "commit", self._commit)]

    @contextmanager
    def recording(self) -> Iterator[list[Sent]]:
        self.log = []
        for target, name, listener in self._listeners():
            event.listen(target, name, listener)
        try:
            yield self.log
        finally:
            for target, name, listener in self._listeners():
                event.remove(target, name, listener)


def per_transaction(log: Sequence[Sent]) -> list[list[Sent]]:
    """The log cut into transactions (each ends with its COMMIT, or ENDED)."""
    found: list[list[Sent]] = [[]]
    for sent in log:
        found[-1].append(sent)
        if sent.kind in ("COMMIT", ENDED):
            found.append([])
    return [t for t in found if t]


# -- (a) apply-action throughput --------------------------------------------------------------


@dataclass
class RawAction:
    """One action's writes, computed by the engine beforehand (not timed)."""

    case_id: int
    number: str
    read_version: int
    row: dict[str, Any]  # the new column values
    audit_rows: list[tuple[Any, ...]]
    #: The case_clocks mirror's rows the service writes too: changed ones, then new ones.
    changed_clocks: list[dict[str, Any]] = field(default_factory=list)
    added_clocks: list[dict[str, Any]] = field(default_factory=list)


UPDATE_CASE = """UPDATE cases SET state = %s, priority = %s, category = %s, flags = %s::json,
 assignee_role = %s, assignee = %s, next_due_at = %s, "values" = %s::json, data = %s::json,
 row_version = %s, audit_count = %s, audit_hash = %s, updated_at = %s, closed_at = %s
 WHERE id = %s AND row_version = %s"""
AUDIT_FIELDS = ("case_id", "case_seq", "case_number", "at", "actor_id", "actor_name",
                "action", "entity", "field", "old", "new", "reason", "meaning", "version",
                "client", "data", "prev_hash", "case_prev_hash", "hash")
AUDIT_JSON = {"old", "new", "data"}
UPDATE_CLOCK = """UPDATE case_clocks SET variant = %(variant)s, status = %(status)s,
 due_at = %(due_at)s, warn_at = %(warn_at)s, warned = %(warned)s, breached = %(breached)s,
 after_close = %(after_close)s WHERE case_id = %(case_id)s AND clock = %(clock)s"""
INSERT_CLOCK = """INSERT INTO case_clocks (case_id, clock, variant, status, due_at, warn_at,
 warned, breached, after_close) VALUES (%(case_id)s, %(clock)s, %(variant)s, %(status)s,
 %(due_at)s, %(warn_at)s, %(warned)s, %(breached)s, %(after_close)s)"""


def audit_insert(rows: int) -> str:
    one = "(" + ", ".join("%s::json" if f in AUDIT_JSON else "%s" for f in AUDIT_FIELDS) + ")"
    names = ", ".join(f'"{f}"' for f in AUDIT_FIELDS)
    return f"INSERT INTO audit_events ({names}) VALUES " + ", ".join([one] * rows)


def prepare_raw(service: CaseService, numbers: Sequence[str], actor: Actor, now: datetime
                ) -> list[RawAction]:
    """What each action writes: the engine decides, exactly as the service would."""
    actions = []
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
                seq += 1
                record: dict[str, Any] = {
                    "case_id": row.id, "case_seq": seq,
                    "case_number": row.number, "at": entry.at.astimezone(UTC),
                    "actor_id": entry.actor_id, "actor_name": entry.actor_name,
                    "action": entry.action, "entity": entry.entity, "field": entry.field,
                    "old": audit.jsonable(entry.old), "new": audit.jsonable(entry.new),
                    "reason": entry.reason, "meaning": entry.meaning, "version": entry.version,
                    "client": "bench-raw", "data": audit.jsonable(entry.data),
                    "prev_hash": None, "case_prev_hash": case_hash}
                record["hash"] = case_hash = audit.entry_hash(record)
                audit_rows.append(tuple(json.dumps(record[f]) if f in AUDIT_JSON
                                        else record[f] for f in AUDIT_FIELDS))
            columns = store.columns(definition, outcome.case)
            new = {name: columns[name] for name in (
                "state", "priority", "category", "assignee_role", "assignee", "next_due_at",
                "row_version", "updated_at", "closed_at")}
            new.update(flags=json.dumps(columns["flags"]), values=json.dumps(columns["values"]),
                       data=json.dumps(columns["data"]), audit_count=seq, audit_hash=case_hash)
            specs = definition.process(old.process).clocks
            after = {cid for cid, spec in specs.items() if spec.runs_after_close}
            clocks = outcome.case.clocks
            changed = [store.clock_columns(row.id, c, cid in after) for cid, c in clocks.items()
                       if cid in old.clocks and old.clocks[cid] != c]
            added = [store.clock_columns(row.id, c, cid in after) for cid, c in clocks.items()
                     if cid not in old.clocks]
            actions.append(RawAction(row.id, row.number, row.row_version, new, audit_rows,
                                     changed, added))
    return actions


def raw_floor(conn: psycopg.Connection[Any], actions: Sequence[RawAction]) -> float:
    """Per action: the case UPDATE with its version check, the clocks the step changed (as
    the service writes them, so the mirror stays true for the sweep bench), one audit INSERT,
    commit."""
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
            with conn.cursor() as cursor:
                if action.changed_clocks:
                    cursor.executemany(UPDATE_CLOCK, action.changed_clocks)
                if action.added_clocks:
                    cursor.executemany(INSERT_CLOCK, action.added_clocks)
            conn.execute(audit_insert(len(action.audit_rows)),  # type: ignore[arg-type]
                         [v for r in action.audit_rows for v in r])
    return time.perf_counter() - started


def last_entry(conn: psycopg.Connection[Any]) -> int:
    found = conn.execute("SELECT COALESCE(max(id), 0) FROM audit_events").fetchone()
    conn.commit()
    assert found is not None
    return int(found[0])


def service_run(service: CaseService, numbers: Sequence[str], user: str, tag: str) -> float:
    started = time.perf_counter()
    for index, number in enumerate(numbers):
        service.apply_step(number, ACTION, user, {"loaner_serial": f"{tag}-{index:06d}"},
                             client="bench-service")
    return time.perf_counter() - started


def statement_summary(log: Sequence[Sent], actions: int) -> list[str]:
    """The statements of one action in order, and per kind: count and driver time."""
    first = per_transaction(log)[0]
    sequence = " > ".join(s.kind + (f" [{s.rows} rows]" if s.rows > 1 else "") for s in first)
    count: Counter[str] = Counter()
    spent: defaultdict[str, float] = defaultdict(float)
    trips = sum(sent.trip for sent in log) / actions
    for sent in log:
        count[sent.kind] += 1
        spent[sent.kind] += sent.seconds
    statements = sum(n for k, n in count.items()
                     if not k.startswith(("pool", "BEGIN", "COMMIT", ENDED))) / actions
    lines = [f"  service per action: {statements:.1f} statements, {trips:.1f} round trips "
             f"with any ping, BEGIN and COMMIT (recorded from SQLAlchemy's events, {actions} "
             "actions):", f"    {sequence}"]
    for kind, n in count.items():
        timing = f"{spent[kind] / n * 1000:6.3f} ms in cursor.execute" if spent[kind] else ""
        lines.append(f"    {n / actions:4.1f} x {kind:58} {timing}")
    return lines


# -- where apply_step's time goes ----------------------------------------------------------

PHASES = (  # (depth, label, owner, attribute): what apply_step calls, timed by wrapping it
    (0, "CaseService._load_with_user: SELECT case JOIN user, definition", CaseService,
     "_load_with_user"),
    (1, "Engine.raw_connection: pool checkout + pre-ping (SELECT 1)", Engine, "raw_connection"),
    (0, "store.to_case: row JSON -> engine Case", store, "to_case"),
    (0, "machine.apply: the engine (rules, effects, clocks)", machine, "apply"),
    (0, "CaseService._check_user_fields", CaseService, "_check_user_fields"),
    (0, "CaseService._save: entries, signatures, the write", CaseService, "_save"),
    (1, "CaseService._entries: events -> audit entries", CaseService, "_entries"),
    (1, "signatures.invalidate (only if valid ones and a value restated)", signatures,
     "invalidate"),
    (1, "CaseService._open_linked", CaseService, "_open_linked"),
    (1, "CaseService._write", CaseService, "_write"),
    (2, "audit.chain: hash entries in the case's chain (no lock)", audit, "chain"),
    (3, "audit.entry_hash (canonical JSON + SHA-256)", audit, "entry_hash"),
    (2, "store.case_write: column values, changed clocks", store, "case_write"),
    (3, "store.columns: engine Case -> column values", store, "columns"),
    (2, "store.update_cases: UPDATE cases (version check), clocks, entries", store,
     "update_cases"),
    (3, "store._write_clocks: UPDATE case_clocks executemany", store, "_write_clocks"),
    (3, "audit.write_rows: INSERT entries (one statement)", audit, "write_rows"),
    (0, "SessionTransaction.commit: COMMIT", SessionTransaction, "commit"),
    (0, "Session.close: connection back to the pool", Session, "close"),
)


def phase_times(service: CaseService, numbers: Sequence[str], user: str) -> str:
    """Where apply_step's time goes, without a profiler: each collaborator wrapped in a
    timer (nested ones are part of the line above them)."""
    spent: defaultdict[str, float] = defaultdict(float)
    calls: Counter[str] = Counter()
    saved = []
    for _, label, owner, name in PHASES:
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
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)
    n = len(numbers)
    lines = [f"  apply_step by phase, {n} actions, no profiler: {total / n * 1000:.2f} ms "
             "per action (timers add ~0.01 ms per call)"]
    for depth, label, _, _ in PHASES:
        indent = "  " * depth
        lines.append(f"    {indent}{label:{66 - len(indent)}} {spent[label] / n * 1000:6.3f} ms"
                     f" ({calls[label] / n:.1f} calls)")
    top = sum(spent[label] for depth, label, _, _ in PHASES if depth == 0)
    lines.append(f"    {'rest: apply_step itself, sessionmaker, transaction set-up':66} "
                 f"{(total - top) / n * 1000:6.3f} ms")
    return "\n".join(lines)


def layer(filename: str, name: str) -> str:
    if "sqlalchemy" in filename:
        return "SQLAlchemy (ORM, core, dialect)"
    if "psycopg" in filename and "wait" not in name:
        return "psycopg (driver)"
    if "json" in filename or "json" in name:
        return "json (de)serialise"
    if "/engine/persistence/" in filename:
        return "qmsflow persistence"
    if "/engine/" in filename:
        return "qmsflow engine (rules, clocks)"
    if "hashlib" in name or "sha256" in name:
        return "hashing"
    if "wait" in name or (filename == "~" and any(
            w in name for w in ("poll", "select", "execute", "recv", "send", "PQ"))):
        return "waiting on the server (I/O)"
    if "zoneinfo" in filename or "datetime" in name or "isoformat" in name:
        return "datetime"
    return "other (stdlib, builtins)"


def profile_service(service: CaseService, numbers: Sequence[str], user: str) -> str:
    """cProfile of service actions: time by layer, and the top functions."""
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
    stats.sort_stats("cumulative").print_stats(30)
    lines.append("  top by cumulative time:")
    lines += ["    " + line for line in out.getvalue().splitlines()
              if line.strip() and ("/" in line or "{" in line or "ncalls" in line)][:31]
    return "\n".join(lines)


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
    only = sorted({n for n in INBOX_INDEXES for line in lines
                   if n in line and "Index Only Scan" in line})
    others = sorted({line.split(" using ")[1].split()[0] for line in lines
                     if " using " in line and not any(n in line for n in INBOX_INDEXES)})
    bitmap = sorted({line.split(" on ")[1].split()[0] for line in lines
                     if "Bitmap Index Scan on " in line})
    parts = [f"inbox indexes: {', '.join(used) or 'NONE'}"
             + (f" (index-only: {', '.join(only)})" if only else "")]
    if others:
        parts.append(f"other indexes: {', '.join(others)}")
    if bitmap:
        parts.append(f"bitmap scans: {', '.join(bitmap)}")
    parts.append("SEQ SCAN on cases" if "Seq Scan on cases" in text else "no seq scan")
    if "Sort Method" in text:
        parts.append(next(line.strip() for line in lines if "Sort Method" in line))
    return "; ".join(parts)


def or_queries(roles: Sequence[str], user: str, limit: int) -> tuple[tuple[str, Any],
                                                                       tuple[str, Any]]:
    """The plain inbox query: one WHERE with OR over the queues (what list_cases sent before
    it read each queue on its own), page and count."""
    where = ("voided_at IS NULL AND closed_at IS NULL AND (assignee = %(user)s OR "
             f"assignee_role IN ({', '.join(f'%(role{i})s' for i in range(len(roles)))}))")
    params: dict[str, Any] = {"user": user, "limit": limit,
                              **{f"role{i}": role for i, role in enumerate(roles)}}
    page = (f"SELECT * FROM cases WHERE {where} "
            "ORDER BY next_due_at ASC NULLS LAST, id LIMIT %(limit)s")
    return (page, params), (f"SELECT count(*) FROM cases WHERE {where}", params)


def inbox(service: CaseService, statements: Statements, conn: psycopg.Connection[Any],
          runs: int, show: bool) -> None:
    with conn.transaction():
        role, queue = conn.execute(
            "SELECT assignee_role, count(*) FROM cases WHERE closed_at IS NULL AND voided_at "
            "IS NULL AND assignee_role IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        ).fetchone() or ("", 0)
    inbox_user = f"{role.replace('_', '.')}.user"
    with service.sessions() as session:
        account = session.get(User, inbox_user)
        assert account is not None
        roles = sorted(users.actor(account).roles)
    page = service.list_cases(inbox_user, INBOX)  # warm
    service_times = timed(runs, lambda: service.list_cases(inbox_user, INBOX))
    # The same runs again with SQLAlchemy's events on: the SQL sent and the count's share.
    recorded_times = []
    count_times = []
    sent: list[Sent] = []
    for _ in range(runs):
        with statements.recording() as log:
            started = time.perf_counter()
            service.list_cases(inbox_user, INBOX)
            recorded_times.append(time.perf_counter() - started)
        count_times.append(sum(s.seconds for s in log if s.kind == "SELECT count"))
        sent = log
    page_sql = next((s.statement, s.params) for s in sent if "UNION ALL" in s.kind)
    count_sql = next((s.statement, s.params) for s in sent if s.kind == "SELECT count")

    def replay(*queries: tuple[str, Any]) -> list[float]:
        def once() -> None:
            for statement, params in queries:
                conn.execute(statement, params).fetchall()  # type: ignore[arg-type]
            conn.rollback()
        return timed(runs, once)

    or_page, or_count = or_queries(roles, inbox_user, len(page.rows))
    results = [
        ("raw: list_cases' page SQL", page_sql, replay(page_sql)),
        ("raw: list_cases' count SQL", count_sql, replay(count_sql)),
        ("raw: list_cases' page + count", None, replay(page_sql, count_sql)),
        ("raw: plain OR page", or_page, replay(or_page)),
        ("raw: plain OR count", or_count, replay(or_count)),
        ("raw: plain OR page + count", None, replay(or_page, or_count)),
    ]
    share = sum(count_times) / sum(recorded_times)
    print(f"\n(b) inbox of {inbox_user} (roles {', '.join(roles)}; role {role}: {queue:,} open "
          f"cases in the queue), first page of {len(page.rows)}, total "
          f"{page.total:,}{'+' if page.more else ''}; "
          f"{runs} runs each")
    print(f"  CaseService.list_cases:            p50 {ms(pct(service_times, .5))}  "
          f"p95 {ms(pct(service_times, .95))}")
    print(f"    its statements: {' > '.join(s.kind for s in sent)}")
    print(f"    of which the count:              p50 {ms(pct(count_times, .5))}  "
          f"p95 {ms(pct(count_times, .95))}  ({share:.0%} of the service's time)")
    for label, _, times in results:
        print(f"  {label:34} p50 {ms(pct(times, .5))}  p95 {ms(pct(times, .95))}")
    check = conn.execute(*or_count).fetchone()  # type: ignore[call-overload]
    conn.rollback()
    # list_cases counts up to COUNT_LIMIT and says "more" beyond it.
    agrees = check is not None and (min(check[0], page.total) == page.total
                                    and (check[0] > page.total) == page.more)
    print(f"  plain OR count agrees with list_cases' total (capped at {COUNT_LIMIT:,}): "
          f"{'yes' if agrees else f'NO ({check})'}")
    for label, query, _ in results:
        if query is None:
            continue
        plan = explain(conn, *query)
        print(f"  EXPLAIN {label[5:]}: {plan_summary(plan)}; "
              f"{next((x.strip() for x in plan if 'Execution Time' in x), '')}")
        if show:
            print("    SQL: " + " ".join(query[0].split()))
            print(f"    parameters: {query[1]}")
            print("\n".join("    " + line for line in plan))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--actions", type=int, default=1000,
                        help="actions per side and round for (a)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds for (a)")
    parser.add_argument("--inbox-runs", type=int, default=200)
    parser.add_argument("--profile", action="store_true",
                        help="time apply_step's phases (200 actions) and cProfile 200 more")
    parser.add_argument("--show-plans", action="store_true",
                        help="print the inbox queries' SQL and full plans")
    args = parser.parse_args()

    definition = load(DEFAULT_SET)
    engine = connect(args.url)
    require_current_schema(engine)
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
        touched = select(AuditEvent.id).where(AuditEvent.case_id == CaseRow.id,
                                              AuditEvent.client.like("bench-%")).exists()
        # Least recently changed first, and never a case an earlier run took a step on; not
        # one whose loaner is out already (the step would be refused).
        numbers = [number for number, flags in session.execute(
            select(CaseRow.number, CaseRow.flags).where(
                CaseRow.process == PROCESS, CaseRow.state == STATE,
                CaseRow.closed_at.is_(None), CaseRow.voided_at.is_(None), ~touched)
            .order_by(CaseRow.updated_at, CaseRow.id)) if "loaner_out" not in (flags or [])]
    wanted = args.rounds * 2 * args.actions + 3 * WARM + (400 if args.profile else 0)
    print(f"database: {make_url(args.url).database}, ~{total_cases:,} cases; "
          f"{len(numbers):,} open {PROCESS} cases in {STATE} that no run touched yet; "
          f"PostgreSQL via psycopg {psycopg.__version__}")
    if len(numbers) < wanted:
        raise SystemExit(f"(a) needs {wanted} of them: seed again (bench/seed.py --fresh) or "
                         "pass fewer --actions")
    pool = iter(numbers)

    def take(n: int) -> list[str]:
        return [next(pool) for _ in range(n)]

    conn = psycopg.connect(libpq(args.url))
    # Warm up both paths (compiled statements, caches, prepared statements).
    service_run(service, take(WARM), user, "WARM")
    raw_floor(conn, prepare_raw(service, take(WARM), actor, datetime.now(UTC)))

    before = last_entry(conn)
    with statements.recording() as log:
        service_run(service, take(WARM), user, "COUNT")
    summary = statement_summary(log, WARM)
    written = (last_entry(conn) - before) / WARM
    service_time = raw_time = 0.0
    raw_rows = 0
    for _ in range(args.rounds):
        service_time += service_run(service, take(args.actions), user, "SVC")
        actions = prepare_raw(service, take(args.actions), actor, datetime.now(UTC))
        raw_time += raw_floor(conn, actions)
        raw_rows += sum(len(a.audit_rows) for a in actions)
    n = args.rounds * args.actions
    service_rate, raw_rate = n / service_time, n / raw_time
    print(f"\n(a) apply '{ACTION}' on {STATE} cases, {n} actions per side "
          f"({args.rounds} alternating rounds), each all or nothing")
    print(f"  audit rows per action: service {written:.2f}, raw {raw_rows / n:.2f} "
          "(varies with the case: a clock or flag that changes adds one)")
    print("\n".join(summary))
    print(f"  CaseService.apply_step:             {service_rate:8.1f} actions/s "
          f"({ms(service_time / n)} per action)")
    print(f"  raw SQL floor (UPDATE+INSERT+commit): {raw_rate:8.1f} actions/s "
          f"({ms(raw_time / n)} per action)")
    if args.profile:
        print(phase_times(service, take(200), user))
        print(profile_service(service, take(200), user))

    inbox(service, statements, conn, args.inbox_runs, args.show_plans)
    service.seal_audit()  # as the worker would: the database stays valid for the next bench
    conn.close()
    engine.dispose()
    print(f"ratio service/raw apply throughput: {service_rate / raw_rate:.2f}")


if __name__ == "__main__":
    main()
