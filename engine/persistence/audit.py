"""The audit trail: append-only, hash-chained per case and globally (21 CFR 11.10(e)).

Every entry hashes its own content together with the hash of the entry before it, in two
chains: one through all entries (ids are consecutive, handed out under a lock on the one
``audit_head`` row) and one through each case's entries. Changing, deleting or inserting a row
breaks both; :func:`verify` finds the first entry where each chain breaks. No code path updates
or deletes an audit row, and database triggers refuse both.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Executable, Table, bindparam, func, insert, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from .models import AuditEvent, AuditHead, CaseRow

GENESIS = "0" * 64
MAX_BREAKS = 1000  # a wholesale rewrite need not list every row


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: the form it is stored, hashed and shown in."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def canonical(data: Any) -> bytes:
    """One byte string per value: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str).encode("utf-8")


@dataclass(frozen=True)
class Entry:
    """An audit entry to append: who did what, when, to which entity and field."""

    action: str
    entity: str
    at: datetime
    actor_id: str | None
    actor_name: str | None
    field: str | None = None
    old: Any = None
    new: Any = None
    reason: str | None = None
    meaning: str | None = None
    version: str | None = None
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class By:
    """Who makes a change that is not a case step (an account, a publication, a migration)."""

    id: str | None
    name: str | None


SYSTEM = By(None, "qmsflow")


HASHED = ("id", "case_seq", "case_number", "at", "actor_id", "actor_name", "action", "entity",
          "field", "old", "new", "reason", "meaning", "version", "client", "data", "prev_hash",
          "case_prev_hash")


def entry_hash(row: Mapping[str, Any]) -> str:
    """The hash of one stored entry, from its content and the hashes it chains to."""
    content = {name: row[name] for name in HASHED}
    content["at"] = row["at"].astimezone(UTC).isoformat()
    return hashlib.sha256(canonical(content)).hexdigest()


@dataclass(frozen=True)
class CaseChain:
    """Where a case's own chain stands: its number, entries so far and the last one's hash."""

    number: str
    count: int
    hash: str


@dataclass
class Batch:
    """Entries chained and ready to write, with where both chains stand after them."""

    rows: list[dict[str, Any]]
    last_id: int
    last_hash: str
    case: CaseChain | None


def chain(session: Session, entries: Sequence[Entry], case: CaseChain | None = None,
          client: str | None = None) -> Batch:
    """Chain ``entries`` (about a case, or about the system when ``case`` is None).

    Locks the global chain's head until the transaction ends, so entries from concurrent
    transactions chain one after the other; write the batch with :func:`write` in the same
    transaction. The hashes do not depend on the case's row id, so a new case can be
    inserted with its chain head already known.
    """
    last_id, last_hash = session.connection().execute(LOCK_HEAD).one()
    rows: list[dict[str, Any]] = []
    case_hash = case.hash if case is not None else None
    case_seq = case.count if case is not None else 0
    for entry in entries:
        last_id += 1
        if case is not None:
            case_seq += 1
        row: dict[str, Any] = {
            "id": last_id, "case_seq": case_seq if case else None,
            "case_number": case.number if case else None, "at": entry.at.astimezone(UTC),
            "actor_id": entry.actor_id, "actor_name": entry.actor_name,
            "action": entry.action, "entity": entry.entity, "field": entry.field,
            "old": jsonable(entry.old), "new": jsonable(entry.new), "reason": entry.reason,
            "meaning": entry.meaning, "version": entry.version, "client": client,
            "data": jsonable(entry.data), "prev_hash": last_hash,
            "case_prev_hash": case_hash,
        }
        row["hash"] = last_hash = entry_hash(row)
        if case is not None:
            case_hash = row["hash"]
        rows.append(row)
    after = CaseChain(case.number, case_seq, case_hash or GENESIS) if case is not None else None
    return Batch(rows, last_id, last_hash, after)


EVENTS = cast(Table, AuditEvent.__table__)
HEAD = cast(Table, AuditHead.__table__)
LOCK_HEAD = select(HEAD.c.last_id, HEAD.c.last_hash).where(HEAD.c.id == 1).with_for_update()
MOVE_HEAD = (update(HEAD).where(HEAD.c.id == 1)
             .values(last_id=bindparam("head_id"), last_hash=bindparam("head_hash")))


@functools.cache
def _insert_and_move_head() -> Executable:
    """PostgreSQL: the entries and the new head in one statement, built once.

    The rows travel as one typed array per column, unnested into rows, so the statement's
    shape does not depend on how many entries a step writes and SQLAlchemy compiles it once
    (a multi-row VALUES is compiled again for every step).
    """
    names = [column.name for column in EVENTS.columns]
    arrays = [sql_cast(bindparam(f"col_{c.name}", type_=ARRAY(c.type)), ARRAY(c.type))
              for c in EVENTS.columns]
    rows = func.unnest(*arrays).table_valued(*names).render_derived(name="batch")
    entries = insert(EVENTS).from_select(names, select(*rows.c)).cte("entries")
    return MOVE_HEAD.add_cte(entries)


def write(session: Session, batch: Batch, case_id: int | None = None) -> None:
    """Insert a chained batch and move the global head on (one statement on PostgreSQL)."""
    if not batch.rows:
        return
    rows = [{**row, "case_id": case_id} for row in batch.rows]
    head = {"head_id": batch.last_id, "head_hash": batch.last_hash}
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        columns = {f"col_{c.name}": [row[c.name] for row in rows] for c in EVENTS.columns}
        connection.execute(_insert_and_move_head(), {**columns, **head})
    else:
        connection.execute(insert(EVENTS), rows)
        connection.execute(MOVE_HEAD, head)


def append(session: Session, entries: Sequence[Entry], client: str | None = None) -> None:
    """Chain and write entries about the system (accounts, definition versions); entries
    about a case go with the case's own write."""
    if entries:
        write(session, chain(session, entries, None, client))


@dataclass(frozen=True)
class Break:
    """Where a chain breaks: the first entry that does not fit, and why."""

    event_id: int | None
    case_number: str | None
    message: str

    def __str__(self) -> str:
        where = f"event {self.event_id}" if self.event_id is not None else "chain head"
        case = f" (case {self.case_number})" if self.case_number else ""
        return f"{where}{case}: {self.message}"


def _rows(session: Session, batch: int) -> Iterator[AuditEvent]:
    after = 0
    while True:
        chunk = session.execute(select(AuditEvent).where(AuditEvent.id > after)
                                .order_by(AuditEvent.id).limit(batch)).scalars().all()
        if not chunk:
            return
        yield from chunk
        after = chunk[-1].id
        session.expunge_all()


def verify(session: Session, batch: int = 5000) -> tuple[int, list[Break]]:
    """Walk both chains; the number of entries checked and every break found.

    Each case's chain reports only its first break (what follows it cannot be trusted
    anyway); the global chain likewise.
    """
    breaks: list[Break] = []
    global_broken = False
    expected_id, prev = 1, GENESIS
    cases: dict[int, tuple[int, str]] = {}  # case id -> (entries seen, last hash)
    broken_cases: set[int] = set()
    count = 0
    for row in _rows(session, batch):
        count += 1
        data = {name: getattr(row, name) for name in HASHED}
        problems = []
        if entry_hash(data) != row.hash:
            problems.append("its content does not match its hash: the row was changed after "
                            "it was written")
        if not global_broken and (row.id != expected_id or row.prev_hash != prev):
            missing = (f"entries {expected_id}..{row.id - 1} are missing"
                       if row.id > expected_id else "it does not follow the entry before it")
            breaks.append(Break(row.id, row.case_number, f"global chain broken: {missing}"))
            global_broken = True
        if row.case_id is not None and row.case_id not in broken_cases:
            seen, last = cases.get(row.case_id, (0, GENESIS))
            if row.case_seq != seen + 1 or row.case_prev_hash != last:
                problems.append(f"the case's chain breaks here (entry {row.case_seq}, expected "
                                f"{seen + 1}): an entry before it was removed or changed")
            cases[row.case_id] = (seen + 1, row.hash)
        if problems:
            if row.case_id is not None:
                broken_cases.add(row.case_id)
            if len(breaks) < MAX_BREAKS:
                breaks.append(Break(row.id, row.case_number, "; ".join(problems)))
        expected_id, prev = row.id + 1, row.hash
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id != expected_id - 1 or head.last_hash != prev):
        breaks.append(Break(None, None, f"the chain head records entry {head.last_id} as the "
                                        f"last, the table ends at {expected_id - 1}: entries "
                                        "were removed from the end"))
    breaks += _case_heads(session, cases, broken_cases)
    return count, breaks


def _case_heads(session: Session, cases: Mapping[int, tuple[int, str]],
                broken: Iterable[int]) -> list[Break]:
    skip = set(broken)
    found = []
    for case_id, number, count, last in session.execute(
            select(CaseRow.id, CaseRow.number, CaseRow.audit_count, CaseRow.audit_hash)):
        if case_id in skip:
            continue
        seen, last_seen = cases.get(case_id, (0, GENESIS))
        if (count, last) != (seen, last_seen):
            found.append(Break(None, number, f"the case records {count} audit entries, the "
                                             f"trail holds {seen}: entries were removed"))
    return found
