"""The audit trail: append-only, hash-chained per case and globally (21 CFR 11.10(e)).

Every entry hashes its own content together with the hash of the entry before it, in two
chains: one through all entries (ids are consecutive, handed out under a lock on the one
``audit_head`` row) and one through each case's entries. Changing, deleting or inserting a row
breaks both; :func:`verify` finds the first entry where each chain breaks. No code path updates
or deletes an audit row, and database triggers refuse both.

A chain anybody can recompute proves little against someone who can write the tables: with the
project's own hash function they could rewrite an entry and every hash after it. So when the
deployment has an audit key (:class:`Keys`, kept outside the database), each entry is sealed
with an HMAC under that key instead of a plain hash, and names the key (``key_id``) so that keys
can be rotated: new entries take the current key, earlier keys still verify theirs. Once an
entry is keyed, every later one must be, and the last one must carry the current key: a chain
recomputed without the key, or cut back to its unkeyed part, does not verify. Anchors (the head
written now and then to a file the operator keeps elsewhere, :func:`anchor_line`) prove that
the trail up to each anchored entry is the one that stood then, even to someone holding the key.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
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

from ..errors import QmsflowError
from .models import AuditEvent, AuditHead, CaseRow

GENESIS = "0" * 64
MAX_BREAKS = 1000  # a wholesale rewrite need not list every row
#: Where a session finds the audit keys of its deployment (see :func:`.db.session_factory`).
KEYS_INFO = "qmsflow.audit_keys"


class MissingKey(QmsflowError, LookupError):
    """An entry sealed with a key this deployment does not hold (the key id is its argument)."""


@dataclass(frozen=True)
class Keys:
    """The audit chain's HMAC keys, kept outside the database: ``current`` seals new entries;
    ``earlier`` ones (after a rotation) still verify the entries they sealed."""

    current: bytes | None = None
    earlier: tuple[bytes, ...] = ()

    @staticmethod
    def key_id(key: bytes) -> str:
        """A key's public name: a hash of it, which says nothing about the key itself."""
        return hashlib.sha256(b"qmsflow audit key\x00" + key).hexdigest()[:16]

    @functools.cached_property
    def by_id(self) -> dict[str, bytes]:
        """Every key this deployment holds, by its id."""
        keys = [*self.earlier, *([self.current] if self.current else [])]
        return {self.key_id(key): key for key in keys}

    @property
    def current_id(self) -> str | None:
        """The id of the key that seals new entries (None: entries are not keyed)."""
        return self.key_id(self.current) if self.current else None


NO_KEYS = Keys()


def keys_of(session: Session) -> Keys:
    """The audit keys the session's deployment holds (none when it has no key)."""
    found = session.info.get(KEYS_INFO)
    return found if isinstance(found, Keys) else NO_KEYS


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


def entry_hash(row: Mapping[str, Any], keys: Keys = NO_KEYS) -> str:
    """The seal of one stored entry, from its content and the hashes it chains to: the HMAC
    under the key it names, or plain SHA-256 for an entry without a key (MissingKey when
    ``keys`` lack the key it names)."""
    content = {name: row[name] for name in HASHED}
    content["at"] = row["at"].astimezone(UTC).isoformat()
    key_id = row.get("key_id")
    if key_id is None:
        return hashlib.sha256(canonical(content)).hexdigest()
    content["key_id"] = key_id  # so the key named cannot be swapped for another
    key = keys.by_id.get(key_id)
    if key is None:
        raise MissingKey(key_id)
    return hmac.new(key, canonical(content), hashlib.sha256).hexdigest()


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
    keys = keys_of(session)
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
            "case_prev_hash": case_hash, "key_id": keys.current_id,
        }
        row["hash"] = last_hash = entry_hash(row, keys)
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


def seal(session: Session, now: datetime, by: By = SYSTEM) -> str | None:
    """Append an entry sealed with the current key, so that the chain ends under it at once
    (after a key is first set or rotated); the key's id (None: the deployment has no key)."""
    key_id = keys_of(session).current_id
    if key_id is not None:
        append(session, [Entry("audit_sealed", "audit", now, by.id, by.name,
                               data={"key_id": key_id})])
    return key_id


@dataclass(frozen=True)
class Break:
    """Where a chain breaks: the first entry that does not fit, and why."""

    event_id: int | None
    case_number: str | None
    message: str

    def __str__(self) -> str:
        case = f"case {self.case_number}" if self.case_number else ""
        where = (f"event {self.event_id}" + (f" ({case})" if case else "")
                 if self.event_id is not None else case)
        return f"{where}: {self.message}" if where else self.message


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


@dataclass(frozen=True)
class Anchor:
    """An entry's id and seal as written outside the database at some moment (``line``: where
    in the operator's anchor file)."""

    event_id: int
    hash: str
    line: int


def anchor_line(session: Session, now: datetime) -> str:
    """The chain's head as one line for the operator's anchor file: ``id seal UTC-time``."""
    head = session.get_one(AuditHead, 1)
    return f"{head.last_id} {head.last_hash} {now.astimezone(UTC).isoformat()}"


def parse_anchors(text: str) -> list[Anchor]:
    """The anchors of an anchor file (ValueError naming the first line that is not one)."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts or line.lstrip().startswith("#"):
            continue
        if (len(parts) < 2 or not parts[0].isdigit() or len(parts[1]) != 64
                or any(c not in "0123456789abcdef" for c in parts[1])):
            raise ValueError(f"line {number} is not an anchor ('ENTRY-ID SEAL TIME', as "
                             f"'qmsflow audit anchor' writes them): {line[:80]!r}")
        found.append(Anchor(int(parts[0]), parts[1], number))
    return found


def verify(session: Session, batch: int = 5000, anchors: Sequence[Anchor] = ()
           ) -> tuple[int, list[Break]]:
    """Walk both chains; the number of entries checked and every break found.

    Each case's chain reports only its first break (what follows it cannot be trusted
    anyway); the global chain likewise. With keys (see :class:`Keys`), the keyed part of the
    chain must run to its end, under the current key; every anchor must name an entry that
    still carries the seal anchored.
    """
    keys = keys_of(session)
    breaks: list[Break] = []
    global_broken = False
    expected_id, prev = 1, GENESIS
    cases: dict[int, tuple[int, str]] = {}  # case id -> (entries seen, last hash)
    broken_cases: set[int] = set()
    unknown_keys: set[str] = set()
    first_keyed: int | None = None
    last_key: str | None = None
    anchored = {anchor.event_id: anchor for anchor in anchors}
    count = 0
    for row in _rows(session, batch):
        count += 1
        data = {name: getattr(row, name) for name in (*HASHED, "key_id")}
        problems = []
        try:
            if not hmac.compare_digest(entry_hash(data, keys), row.hash):
                problems.append("its content does not match its seal: the row was changed "
                                "after it was written")
        except MissingKey as unknown:
            key_id = str(unknown.args[0])
            if key_id not in unknown_keys:
                unknown_keys.add(key_id)
                breaks.append(Break(row.id, row.case_number, (
                    f"sealed with audit key {key_id}, which this deployment does not hold: "
                    "add that key to QMSFLOW_AUDIT_KEY_FALLBACKS to check these entries")))
        if row.key_id is not None and first_keyed is None:
            first_keyed = row.id
        elif row.key_id is None and first_keyed is not None:
            problems.append(f"it has no audit key though entry {first_keyed} and later ones "
                            "are sealed with one: written around qmsflow, or the chain was "
                            "recomputed without the key")
        last_key = row.key_id
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
        anchor = anchored.pop(row.id, None)
        if anchor is not None and anchor.hash != row.hash:
            problems.append(f"anchor line {anchor.line} recorded another seal for this entry: "
                            "the trail up to here was rewritten since it was anchored")
        if problems:
            if row.case_id is not None:
                broken_cases.add(row.case_id)
            if len(breaks) < MAX_BREAKS:
                breaks.append(Break(row.id, row.case_number, "; ".join(problems)))
        expected_id, prev = row.id + 1, row.hash
    for anchor in anchored.values():
        breaks.append(Break(anchor.event_id, None, (
            f"anchor line {anchor.line} names this entry, which the trail no longer holds: "
            "entries were removed")))
    if count and keys.current_id is not None and last_key != keys.current_id:
        breaks.append(Break(expected_id - 1, None, (
            "the last entry is not sealed with the current audit key: right after setting or "
            "rotating the key, run 'qmsflow audit seal'; otherwise the chain was recomputed "
            "without the key or cut back")))
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
