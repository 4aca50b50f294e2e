"""Seed a PostgreSQL database with many realistic cases, for bench/persistence_bench.py.

Every case is a real engine case: the bundled scenarios run through the engine and each case
they produce (at every step: open and finished, complaints and service requests) becomes a
template, saved with ``store.columns`` exactly as the service saves it. Each seeded case is one
template shifted in time, with its own id, case number (from the process's own pattern, in
creation order, restarting per month like the service's), serial number and users; so
``store.to_case`` loads it and the service can take the next step on it.

What is written, per case: the ``cases`` row, its ``case_clocks`` rows (every clock, as the
service keeps them), and audit entries that chain correctly per case and are sealed globally
(``audit.verify`` passes on seeded data; ``--verify`` checks it at the
end). The audit entries are those the service would have written for the template's history,
``--audit`` chooses how many: ``first`` (default: the case's first entry, so 1 per case),
``steps`` (one per step taken, ~5-10 per case) or ``full`` (all, 15-95 per case: slow).
Also: the definition version (``versions.store``), one user per role (password hashed once),
``case_sequences`` so that the next case created continues each month's numbering, the seals
over the entries (``audit.seal_pending`` after the load). Not seeded: signature rows (and the
'signed' entries that go with them; every case's ``valid_signatures`` is 0, as it must be
without them), linked cases (templates with links are left out).

Mix (flags): ``--open`` share of open cases (15%: spread over the open states, last activity
within 10 days, so many clocks are overdue as in a real backlog); closed cases finished over
the last 3 years; ``--complaints`` share of complaints (the rest are service requests);
``--voided`` share voided (with their 'voided' entry); ``--assigned`` share of open cases also
assigned to a person (the role's user; the engine has no step that does it yet, the inbox
query filters on it).

Loading uses COPY in one transaction, with the plain secondary indexes (among them the
inbox's partial indexes of open cases, ``ix_cases_open_role`` and ``ix_cases_open_user``)
dropped first and created again at the end from their saved definitions (the schema ends
identical to the migrations': checked), foreign-key triggers off for the load
(session_replication_role), then VACUUM ANALYZE and a CHECKPOINT. The schema changes with
the code: after an upgrade of qmsflow, seed again with ``--fresh``.

Run:
    .venv/bin/python bench/seed.py --fresh                    # 1,000,000 cases into qmsflow_bench
    .venv/bin/python bench/seed.py --fresh --cases 20000 --verify   # smoke run, audit verified
    .venv/bin/python bench/seed.py --url postgresql+psycopg://postgres@127.0.0.1:5432/other
Then: .venv/bin/python bench/persistence_bench.py
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import queue
import random
import re
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import psycopg
import yaml
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine, make_url

from qmsflow.engine import scenario
from qmsflow.engine.cases import Actor, Case
from qmsflow.engine.loader import load
from qmsflow.engine.machine import case_number
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import audit, schema, store, users, versions
from qmsflow.engine.persistence.db import connect, session_factory
from qmsflow.engine.persistence.service import SWEEP, CaseService

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = ROOT / "definitions" / "default"
SCENARIOS = ROOT / "scenarios"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/qmsflow_bench"
PASSWORD = "bench password 2026"  # every seeded user's password
CHUNK = 5000  # cases per COPY batch

# How closed cases end (the rest of a process's final states share what is left evenly).
CLOSED_WEIGHTS = {
    "complaint": {"closed": 60, "not_a_complaint": 25, "not_established": 10, "superseded": 5},
    "service_request": {"closed": 93, "cancelled": 7},
}
ISO_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,6})?)?[+-]\d\d:\d\d")
ISO_DATE = re.compile(r"\d{4}-\d\d-\d\d")
SLOT = re.compile(r"@@(\w+)@@")
NULL = "\\N"


def user_id(role: str) -> str:
    return f"{role.replace('_', '.')}.user"


def user_name(role: str) -> str:
    return f"{role.replace('_', ' ').title()} (bench)"


class OnceHasher(PasswordHasher):
    """Hashes each password once (argon2 is slow on purpose); every user reuses the hash."""

    def __init__(self) -> None:
        super().__init__()
        self._done: dict[str, str] = {}

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        key = password if isinstance(password, str) else password.decode()
        if key not in self._done:
            self._done[key] = super().hash(password, salt=salt)
        return self._done[key]


# -- templates: real engine cases from the bundled scenarios --------------------------------


@dataclass
class Snapshot:
    """A case as one scenario step left it, with the audit entries of its whole history."""

    case: Case
    entries: list[audit.Entry]
    users: dict[str, tuple[str, str]]  # scenario user id -> (role, printed name)


def capture(definition: DefinitionSet) -> list[Snapshot]:
    """Every case the bundled scenarios produce on ``definition``, step by step.

    The scenario runner calls the engine; its engine functions are wrapped for the run so
    that each step's events become the audit entries the service writes for them.
    """
    snapshots: list[Snapshot] = []
    pending: list[tuple[Any, Actor]] = []
    history: dict[str, list[audit.Entry]] = {}
    people: dict[str, tuple[str, str]] = {}
    names = ("start", "apply", "escalate", "open_linked")
    original = {name: getattr(scenario, name) for name in names}

    def recording(name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            result = original[name](*args, **kwargs)
            outcome = result[0] if name == "open_linked" else result
            actor = Actor("", SWEEP, frozenset()) if name == "escalate" else args[3]
            pending.append((outcome, actor))
            return result
        return call

    def keep(run_definition: DefinitionSet, case: Case) -> Case:
        past = history.setdefault(case.number, [])
        found = [(o, a) for o, a in pending if o.case is case]
        for outcome, actor in found[-1:]:
            # The service's own mapping of engine events to audit entries.
            past.extend(CaseService._entries(cast(Any, None), run_definition, outcome, actor))
        if run_definition.version == definition.version:
            snapshots.append(Snapshot(case, list(past), dict(people)))
        return case

    try:
        for name in names:
            setattr(scenario, name, recording(name))
        for path in sorted(SCENARIOS.glob("*.yaml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            people.clear()
            people.update({u["id"]: (u["roles"][0], u["name"]) for u in data.get("users", [])})
            history.clear()
            pending.clear()
            if not scenario.run(path, keep).ok:
                raise SystemExit(f"scenario {path.name} fails: fix it before seeding")
    finally:
        for name in names:
            setattr(scenario, name, original[name])
    return snapshots


class Marker:
    """Replaces what varies per case with ``@@slot@@`` placeholders: times, user ids."""

    def __init__(self, ids: Mapping[str, str]) -> None:
        self.ids = ids
        self.slots: dict[tuple[str, bool], tuple[str, datetime | date]] = {}

    def time(self, value: datetime | date) -> str:
        key = (value.isoformat(), isinstance(value, datetime))
        if key not in self.slots:
            self.slots[key] = (f"t{len(self.slots)}", value)
        return f"@@{self.slots[key][0]}@@"

    def __call__(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return self.time(value)
        if isinstance(value, str):
            if ISO_DATETIME.fullmatch(value):
                moment = datetime.fromisoformat(value)
                if moment.isoformat() == value:
                    return self.time(moment)
            elif ISO_DATE.fullmatch(value):
                return self.time(date.fromisoformat(value))
            return self.ids.get(value, value)
        if isinstance(value, Mapping):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        return value


def copy_field(value: Any, as_json: bool = False) -> str:
    """One COPY text-format field, braces doubled (the line is a format_map template)."""
    if as_json:
        text = json.dumps(value)  # as SQLAlchemy's JSON type writes it (JSON null for None)
    elif value is None:
        return NULL
    elif isinstance(value, bool):
        text = "t" if value else "f"
    else:
        text = str(value)
    text = (text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))
    return text.replace("{", "{{").replace("}", "}}")


def copy_line(fields: list[str]) -> str:
    return SLOT.sub(r"{\1}", "\t".join(fields)) + "\n"


CASE_COLUMNS = ("id", "number", "process", "version", "state", "priority", "category", "flags",
                "assignee_role", "assignee", "next_due_at", "values", "data", "row_version",
                "audit_count", "audit_hash", "valid_signatures", "created_at", "updated_at",
                "closed_at", "voided_at", "void_reason")
CASE_JSON = ("flags", "values", "data")
CLOCK_COLUMNS = ("case_id", "clock", "variant", "status", "due_at", "warn_at", "warned",
                 "breached")
AUDIT_COLUMNS = ("id", "case_id", "case_seq", "case_number", "at", "actor_id", "actor_name",
                 "action", "entity", "field", "old", "new", "reason", "meaning", "version",
                 "client", "data", "prev_hash", "case_prev_hash", "hash")
AUDIT_JSON = ("old", "new", "data")
VOID_REASON = "重复登记 (seeded duplicate)"


@dataclass
class Template:
    """One case shape as format strings for its COPY lines, with slots for what varies."""

    process: str
    state: str
    open: bool
    owner: str | None
    times: list[tuple[str, datetime]]
    dates: list[tuple[str, date]]
    case_line: str
    void_line: str
    clock_lines: str
    clocks: int
    entries: list[tuple[str, str]]  # (hashed content, COPY line) of each audit entry
    void_entry: tuple[str, str]
    created: datetime
    updated: datetime
    checked: bool = False  # its hashes were checked against audit.entry_hash


def entry_templates(mark: Marker, entry: audit.Entry, names: Mapping[str, str]
                    ) -> tuple[str, str]:
    """The hashed content and the COPY line of one audit entry, with slots."""
    data = mark(audit.jsonable(entry.data))
    if isinstance(data.get("signer"), str):
        data["signer"] = names.get(data["signer"], data["signer"])
    row: dict[str, Any] = {
        "id": "@@aid@@", "case_id": "@@id@@", "case_seq": "@@seq@@",
        "case_number": "@@number@@", "at": mark.time(entry.at.astimezone(UTC)),
        "actor_id": mark.ids.get(entry.actor_id or "", entry.actor_id),
        "actor_name": names.get(entry.actor_name or "", entry.actor_name),
        "action": entry.action, "entity": entry.entity, "field": entry.field,
        "old": mark(audit.jsonable(entry.old)), "new": mark(audit.jsonable(entry.new)),
        "reason": entry.reason, "meaning": entry.meaning, "version": entry.version,
        "client": None, "data": data, "prev_hash": None, "case_prev_hash": "@@cprev@@",
        "hash": "@@hash@@"}
    try:
        content = {name: row[name] for name in audit.HASHED}
    except KeyError as missing:
        raise SystemExit(f"audit.HASHED names {missing}, which bench/seed.py does not fill: "
                         "update entry_templates") from None
    hashed = audit.canonical(content).decode("utf-8")
    for name in ("id", "seq"):  # integers, not strings
        hashed = hashed.replace(f'"@@{name}@@"', f"@@{name}@@")
    hashed = SLOT.sub(r"{\1}", hashed.replace("{", "{{").replace("}", "}}"))
    line = copy_line([copy_field(row[name], name in AUDIT_JSON) for name in AUDIT_COLUMNS])
    return hashed, line


def make_template(definition: DefinitionSet, snapshot: Snapshot, mode: str) -> Template:
    case = snapshot.case
    mark = Marker({uid: user_id(role) for uid, (role, _) in snapshot.users.items()})
    names = {name: user_name(role) for role, name in snapshot.users.values()}
    columns = store.columns(definition, case)
    values = dict(columns["values"])
    if "serial_number" in values:
        values["serial_number"] = "@@serial@@"

    def when(value: datetime | None) -> str | None:
        return mark.time(value) if value is not None else None

    row: dict[str, Any] = {
        **columns, "id": "@@id@@", "number": "@@number@@", "values": mark(values),
        "data": mark(columns["data"]), "assignee": "@@assignee@@",
        "next_due_at": when(columns["next_due_at"]), "created_at": when(case.created_at),
        "updated_at": when(case.updated_at), "closed_at": when(case.closed_at),
        "audit_count": "@@count@@", "audit_hash": "@@head@@",
        # No signature rows are seeded, so none is valid: a step never reads signatures.
        "valid_signatures": 0, "voided_at": None, "void_reason": None}
    voided_at = case.updated_at + timedelta(hours=1)
    void_row = {**row, "row_version": case.row_version + 1, "updated_at": when(voided_at),
                "voided_at": when(voided_at), "void_reason": VOID_REASON}

    def line(row: Mapping[str, Any]) -> str:
        return copy_line([copy_field(row[name], name in CASE_JSON) for name in CASE_COLUMNS])

    clock_lines = "".join(copy_line([copy_field(v) for v in (
        "@@id@@", clock.id, clock.variant, clock.status, when(clock.due_at),
        when(clock.warn_at), clock.warned, clock.breached)]) for clock in case.clocks.values())
    history = snapshot.entries
    if mode == "first":
        history = history[:1]
    elif mode == "steps":
        history = [e for e in history if e.action in ("created", "transition")]
    entries = [entry_templates(mark, entry, names) for entry in history]
    manager = "quality_manager"
    void_entry = entry_templates(mark, audit.Entry(
        "voided", "case", voided_at, user_id(manager), user_name(manager), field="voided",
        old=False, new=True, reason=VOID_REASON, version=definition.version,
        data={"state": case.state}), {})
    slots = list(mark.slots.values())
    return Template(
        process=case.process, state=case.state, open=case.closed_at is None,
        owner=case.assignee_role,
        times=[(k, v) for k, v in slots if isinstance(v, datetime)],
        dates=[(k, v) for k, v in slots if not isinstance(v, datetime)],
        case_line=line(row), void_line=line(void_row), clock_lines=clock_lines,
        clocks=len(case.clocks), entries=entries, void_entry=void_entry,
        created=case.created_at, updated=case.updated_at)


def build_templates(definition: DefinitionSet, mode: str) -> list[Template]:
    return [make_template(definition, snapshot, mode) for snapshot in capture(definition)
            if not snapshot.case.links]  # a linked case's number would point nowhere


# -- the mix: which template, when ------------------------------------------------------------


@dataclass
class Mix:
    cases: int
    open: float
    complaints: float
    voided: float
    assigned: float
    years: float
    seed: int


def plan(templates: list[Template], mix: Mix, now: datetime) -> list[tuple[float, int, int,
                                                                            bool, bool]]:
    """(created epoch, template, shift seconds, voided, assigned) per case, oldest first."""
    rng = random.Random(mix.seed)
    by_state: dict[tuple[str, bool], dict[str, list[int]]] = defaultdict(lambda: defaultdict(
        list))
    for index, template in enumerate(templates):
        by_state[template.process, template.open][template.state].append(index)
    choices: dict[tuple[str, bool], tuple[list[str], list[float]]] = {}
    for (process, is_open), states in by_state.items():
        names = sorted(states)
        if is_open:
            weights = [1.0] * len(names)
        else:
            known = CLOSED_WEIGHTS.get(process, {})
            rest = max(0, 100 - sum(known.get(s, 0) for s in names)) / max(
                1, sum(1 for s in names if s not in known))
            weights = [float(known.get(s, rest)) or 1.0 for s in names]
        choices[process, is_open] = (names, weights)
    for process in ("complaint", "service_request"):
        for is_open in (True, False):
            if (process, is_open) not in choices:
                raise SystemExit(f"no {'open' if is_open else 'closed'} {process} template")
    span = mix.years * 365 * 86400
    stamp = now.timestamp()
    plans = []
    for _ in range(mix.cases):
        process = "complaint" if rng.random() < mix.complaints else "service_request"
        is_open = rng.random() < mix.open
        names, weights = choices[process, is_open]
        state = rng.choices(names, weights)[0]
        index = rng.choice(by_state[process, is_open][state])
        template = templates[index]
        # Open: last activity within 10 days (a backlog, many clocks overdue); closed: over
        # the last ``years``.
        ago = rng.uniform(300, 10 * 86400) if is_open else rng.uniform(86400, span)
        shift = int(stamp - ago - template.updated.timestamp())
        voided = ago > 7200 and rng.random() < mix.voided
        assigned = is_open and template.owner is not None and rng.random() < mix.assigned
        plans.append((template.created.timestamp() + shift, index, shift, voided, assigned))
    plans.sort()
    return plans


# -- generating COPY data ---------------------------------------------------------------------


@dataclass
class Counts:
    cases: int = 0
    clocks: int = 0
    audit: int = 0
    sequences: dict[tuple[str, str], int] = field(default_factory=dict)
    states: Counter[tuple[str, str]] = field(default_factory=Counter)
    open: int = 0
    last_audit_id: int = 0


def check_hash(content: str, fast: str) -> None:
    """The generator's hash must be audit.entry_hash of the same entry."""
    row = json.loads(content)
    row["at"] = datetime.fromisoformat(row["at"])
    if audit.entry_hash(row) != fast:
        raise SystemExit("bench/seed.py hashes audit entries differently from "
                         "audit.entry_hash (did canonical() change?): update the seeder")


def generate(definition: DefinitionSet, templates: list[Template],
             plans: list[tuple[float, int, int, bool, bool]], first_id: int, audit_id: int,
             counts: Counts) -> Iterator[tuple[str, str, str]]:
    """COPY text for cases, case_clocks and audit_events, CHUNK cases at a time.

    Yields the data as it goes; counts (and the last audit id) are final at the end. The
    entries are chained per case, as the service writes them; the sealer seals them after.
    """
    zone = ZoneInfo(definition.organisation.timezone)
    processes = {p: definition.process(p) for p in definition.processes}
    sequences = counts.sequences
    owners = {t.owner: user_id(t.owner) for t in templates if t.owner}
    sha256 = hashlib.sha256
    cases: list[str] = []
    clocks: list[str] = []
    trail: list[str] = []
    for offset, (_, index, shift, voided, assigned) in enumerate(plans):
        template = templates[index]
        case_id = first_id + offset
        delta = timedelta(seconds=shift)
        env = {key: (value + delta).isoformat() for key, value in template.times}
        if template.dates:
            days = timedelta(days=round(shift / 86400))
            env.update((key, (value + days).isoformat()) for key, value in template.dates)
        process = processes[template.process]
        local = (template.created + delta).astimezone(zone)
        period = store._period(process, local)
        seq = sequences.get((process.id, period), 0) + 1
        sequences[process.id, period] = seq
        env["number"] = case_number(process, local, seq)
        env["id"] = str(case_id)
        env["serial"] = f"SN{case_id:09d}"
        env["assignee"] = owners[template.owner] if assigned else NULL
        head = audit.GENESIS
        entries = [*template.entries, template.void_entry] if voided else template.entries
        for case_seq, (hashed, line) in enumerate(entries, 1):
            audit_id += 1
            env["aid"] = str(audit_id)
            env["seq"] = str(case_seq)
            env["cprev"] = head
            content = hashed.format_map(env)
            head = env["hash"] = sha256(content.encode()).hexdigest()
            if not template.checked or audit_id % 100_000 == 0:
                check_hash(content, head)
            trail.append(line.format_map(env))
        template.checked = True
        counts.audit += len(entries)
        env["count"] = str(len(entries))
        env["head"] = head
        cases.append((template.void_line if voided else template.case_line).format_map(env))
        if template.clocks:
            clocks.append(template.clock_lines.format_map(env))
            counts.clocks += template.clocks
        counts.states[template.process, "voided" if voided else template.state] += 1
        counts.open += template.open and not voided
        counts.cases += 1
        if len(cases) >= CHUNK:
            yield "".join(cases), "".join(clocks), "".join(trail)
            cases, clocks, trail = [], [], []
    if cases:
        yield "".join(cases), "".join(clocks), "".join(trail)
    counts.last_audit_id = audit_id


# -- the database -----------------------------------------------------------------------------


def require_current_schema(engine: Engine) -> None:
    """Stop a bench on a database whose schema differs from the models (seeded by older
    code: only a fresh seed will do)."""
    drift = schema.differences(engine)
    if drift:
        raise SystemExit(f"the database's schema differs from the models ({len(drift)} "
                         f"differences, e.g. {drift[0]}): seed it again with bench/seed.py "
                         "--fresh")


def libpq(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def prepare_database(url: str, fresh: bool) -> None:
    name = make_url(url).database
    if not name:
        raise SystemExit(f"{url}: no database name")
    with psycopg.connect(libpq(url, "postgres"), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                               (name,)).fetchone()
        if exists and fresh:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # type: ignore[arg-type]
            exists = None
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]


TABLES = ("cases", "case_clocks", "audit_events")


def plain_indexes(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of each secondary index that backs no constraint."""
    return conn.execute("""
        SELECT c.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = ANY(%s::regclass[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        ORDER BY c.relname""", (list(TABLES),)).fetchall()


def load_rows(conn: psycopg.Connection[Any],
              chunks: Iterator[tuple[str, str, str]]) -> None:
    """COPY every chunk; a second thread does the COPYs while this one generates."""
    work: queue.Queue[tuple[str, str, str] | None] = queue.Queue(maxsize=3)
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            with conn.cursor() as cursor:
                while (item := work.get()) is not None:
                    for table, columns, text in zip(
                            TABLES, (CASE_COLUMNS, CLOCK_COLUMNS, AUDIT_COLUMNS), item,
                            strict=True):
                        if not text:
                            continue
                        names = ", ".join(f'"{c}"' for c in columns)
                        with cursor.copy(f"COPY {table} ({names}) FROM STDIN"  # type: ignore[arg-type]
                                         ) as copy:
                            copy.write(text)
        except BaseException as error:  # reported by the main thread
            failure.append(error)
            while work.get() is not None:
                pass

    thread = threading.Thread(target=writer, name="copy")
    thread.start()
    try:
        for chunk in chunks:
            if failure:
                break
            work.put(chunk)
    finally:
        work.put(None)
        thread.join()
    if failure:
        raise failure[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"database URL ({DEFAULT_URL})")
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database")
    parser.add_argument("--open", type=float, default=0.15, help="share of open cases")
    parser.add_argument("--complaints", type=float, default=0.3,
                        help="share of complaints (the rest: service requests)")
    parser.add_argument("--voided", type=float, default=0.002, help="share of voided cases")
    parser.add_argument("--assigned", type=float, default=0.1,
                        help="share of open cases also assigned to a person")
    parser.add_argument("--years", type=float, default=3.0, help="closed cases span (years)")
    parser.add_argument("--audit", choices=("first", "steps", "full"), default="first",
                        help="audit entries per case: first, one per step, or all")
    parser.add_argument("--toast", choices=("pglz", "lz4"), default="pglz",
                        help="TOAST compression of the seeded JSON (pglz: the server default, "
                             "as the service writes; lz4 loads ~2x faster)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--verify", action="store_true",
                        help="walk the audit chains with audit.verify at the end (slow)")
    args = parser.parse_args()

    started = time.perf_counter()
    sys.setswitchinterval(0.001)  # the COPY thread gets the GIL back sooner
    definition = load(DEFAULT_SET)
    templates = build_templates(definition, args.audit)
    now = datetime.now(UTC)
    mix = Mix(args.cases, args.open, args.complaints, args.voided, args.assigned, args.years,
              args.seed)
    plans = plan(templates, mix, now)
    opened = sum(1 for t in templates if t.open)
    print(f"templates: {len(templates)} real engine cases from {SCENARIOS.name}/ "
          f"({opened} open), audit mode '{args.audit}'; planned in "
          f"{time.perf_counter() - started:.1f} s")

    prepare_database(args.url, args.fresh)
    engine = connect(args.url)
    schema.upgrade(engine)
    drift = schema.differences(engine)
    if drift:  # the same revision built by older code: only a fresh database will do
        raise SystemExit(f"the schema of {make_url(args.url).database} differs from the models "
                         f"({len(drift)} differences, e.g. {drift[0]}): it was built by older "
                         "code; seed again with --fresh")
    sessions = session_factory(engine)
    with psycopg.connect(libpq(args.url)) as conn:
        existing = conn.execute("SELECT count(*) FROM cases").fetchone()
    if existing and existing[0]:
        raise SystemExit(f"the database already holds {existing[0]} cases: use --fresh")
    with sessions.begin() as session:
        versions.store(session, definition, DEFAULT_SET, now, by=audit.By("bench", "bench/seed.py"),
                       note="seeded for benchmarks")
        hasher = OnceHasher()
        for role in definition.organisation.roles:
            if session.get(users.User, user_id(role)) is None:
                users.add(session, definition, user_id(role), user_name(role), [role],
                          PASSWORD, now, hasher=hasher)
    engine.dispose()

    counts = Counts()
    with psycopg.connect(libpq(args.url)) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute(f"SET default_toast_compression = {args.toast}")  # type: ignore[arg-type]
        conn.commit()
        try:
            # Foreign-key triggers do not fire: the generator makes every reference right.
            conn.execute("SET session_replication_role = replica")
            conn.commit()
            checked = "not checked during the load"
        except psycopg.Error:
            conn.rollback()
            checked = "checked (not a superuser)"
        with conn.transaction():
            audit_id = conn.execute(
                "SELECT COALESCE(max(id), 0) FROM audit_events").fetchone()[0]
            indexes = plain_indexes(conn)
            for name, _ in indexes:
                conn.execute(f'DROP INDEX "{name}"')  # type: ignore[arg-type]
            load_started = time.perf_counter()
            load_rows(conn, generate(definition, templates, plans, 1, audit_id, counts))
            loaded = time.perf_counter() - load_started
            conn.execute("SELECT setval(pg_get_serial_sequence('audit_events', 'id'), %s)",
                         (counts.last_audit_id,))
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO case_sequences (process, period, value) VALUES (%s, %s, %s) "
                    "ON CONFLICT (process, period) DO UPDATE SET value = EXCLUDED.value",
                    [(p, period, v) for (p, period), v in counts.sequences.items()])
            conn.execute("SELECT setval(pg_get_serial_sequence('cases', 'id'), "
                         "(SELECT max(id) FROM cases))")
            index_started = time.perf_counter()
            for _, statement in indexes:
                conn.execute(statement)  # type: ignore[arg-type]
            indexed = time.perf_counter() - index_started
        conn.execute("SET session_replication_role = origin")
        conn.commit()
    seal_started = time.perf_counter()
    engine = connect(args.url)
    with session_factory(engine).begin() as session:
        sealed = 0
        while found := audit.seal_pending(session, now, wait_ms=None).count:
            sealed += found
    engine.dispose()
    print(f"sealed {sealed:,} audit entries in {time.perf_counter() - seal_started:.1f} s")
    vacuum_started = time.perf_counter()
    with psycopg.connect(libpq(args.url), autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"VACUUM (ANALYZE) {table}")  # type: ignore[arg-type]
        # Write the loaded pages out now: a checkpoint still busy with them slows the first
        # benchmark run (its commits wait on the disk). Needs a superuser or pg_checkpoint.
        with contextlib.suppress(psycopg.Error):
            conn.execute("CHECKPOINT")
        sizes = conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()
    vacuumed = time.perf_counter() - vacuum_started
    engine = connect(args.url)
    drift = schema.differences(engine)

    rows = counts.cases + counts.clocks + counts.audit
    total = time.perf_counter() - started
    print(f"cases: {counts.cases:,} ({counts.open:,} open), "
          f"case_clocks: {counts.clocks:,}, audit_events: {counts.audit:,}; "
          f"foreign keys {checked}")
    for (process, state), n in sorted(counts.states.items()):
        print(f"  {process:16} {state:18} {n:9,}")
    print(f"generate + COPY: {loaded:7.1f} s  {rows / loaded:10,.0f} rows/s "
          f"({counts.cases / loaded:,.0f} cases/s)")
    print(f"create {len(indexes)} indexes: {indexed:5.1f} s; VACUUM ANALYZE: {vacuumed:.1f} s; "
          f"database size {sizes[0] if sizes else '?'}")
    print("schema: " + ("identical to the models" if not drift else f"DIFFERS: {drift}"))
    if args.verify:
        verify_started = time.perf_counter()
        with session_factory(engine)() as session:
            checked_rows, breaks = audit.verify(session)
        print(f"audit.verify: {checked_rows:,} entries, {len(breaks)} breaks "
              f"({time.perf_counter() - verify_started:.1f} s)")
        for found in breaks[:5]:
            print(f"  {found}")
        if breaks:
            raise SystemExit(1)
    engine.dispose()
    print(f"seeded {counts.cases:,} cases in {total:.1f} s: {counts.cases / total:,.0f} cases/s, "
          f"{rows / total:,.0f} rows/s overall")


if __name__ == "__main__":
    main()
