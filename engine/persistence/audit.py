"""The audit trail: append-only, chained per case and sealed globally (21 CFR 11.10(e)).

Every entry is sealed with its content and the hash of the entry before it in its case (the
case's chain: the step that writes it holds the case's row version, so a case's entries chain
one after the other without any global lock). The global order comes afterwards: the sealer
(:func:`seal_pending`, run by the worker) takes the entries written since the last seal, in id
order, once their steps have committed, and writes one :class:`.AuditSeal` over their ids and
hashes, chained to the seal before it. Changing, deleting or inserting an entry breaks its
case's chain and its seal; :func:`verify` finds where. No code path updates or deletes an audit
row or a seal, and database triggers refuse both. Entries written before seals existed
(revision 0006) carry their global link (``prev_hash``) themselves and still verify.

A chain anybody can recompute proves little against someone who can write the tables: with the
project's own hash function they could rewrite an entry and every hash after it. So when the
deployment has an audit key (:class:`Keys`, kept outside the database), each entry and each seal
is sealed with an HMAC under that key instead of a plain hash, and names the key (``key_id``)
so that keys can be rotated: new entries take the current key, earlier keys still verify
theirs. Once an entry or seal is keyed, every later one must be, and the trail must end under
the current key: one recomputed without the key, or cut back to its unkeyed part, does not
verify. Anchors (the last seal written now and then to a file the operator keeps elsewhere,
:func:`anchor_line`) prove that the trail up to each anchored seal is the one that stood then,
even to someone holding the key. Entries the sealer has not reached yet (seconds' worth) are
held by their cases' chains only: someone who can write the tables and knows the key could cut
such an entry from the end of its case unseen.
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

from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..errors import QmsflowError
from . import rowsets
from .models import AuditEvent, AuditHead, AuditSeal, CaseRow, RegisterEntryRow

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
    if value is None or isinstance(value, (str, int, float)):  # most values (bool is an int)
        return value
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


#: What seals an entry written since revision 0006: its content and its place in its case's
#: chain. Its id and global order are bound by the seal that covers it (:class:`.AuditSeal`).
HASHED = ("case_seq", "case_number", "at", "actor_id", "actor_name", "action", "entity",
          "field", "old", "new", "reason", "meaning", "version", "client", "data",
          "case_prev_hash")
#: What sealed an entry written before: the same and its id and global link (``prev_hash``).
HASHED_CHAINED = ("id", *HASHED, "prev_hash")
SEALED = ("seq", "first_id", "last_id", "count", "digest", "sealed_at", "prev_hash")


def _seal_of(content: dict[str, Any], key_id: str | None, keys: Keys) -> str:
    """The HMAC of ``content`` under the key named (SHA-256 without one; MissingKey when
    ``keys`` lack it)."""
    if key_id is None:
        return hashlib.sha256(canonical(content)).hexdigest()
    content["key_id"] = key_id  # so the key named cannot be swapped for another
    key = keys.by_id.get(key_id)
    if key is None:
        raise MissingKey(key_id)
    return hmac.new(key, canonical(content), hashlib.sha256).hexdigest()


def entry_hash(row: Mapping[str, Any], keys: Keys = NO_KEYS) -> str:
    """The seal of one stored entry, from its content and the hash it chains to: the HMAC
    under the key it names, or plain SHA-256 for an entry without a key (MissingKey when
    ``keys`` lack the key it names). An entry with a ``prev_hash`` was written before seals
    existed and chains globally itself."""
    names = HASHED if row.get("prev_hash") is None else HASHED_CHAINED
    content = {name: row[name] for name in names}
    content["at"] = row["at"].astimezone(UTC).isoformat()
    return _seal_of(content, row.get("key_id"), keys)


def seal_hash(seal: Mapping[str, Any], keys: Keys = NO_KEYS) -> str:
    """The hash of one seal over a run of entries, chained to the seal before it."""
    content = {name: seal[name] for name in SEALED}
    content["sealed_at"] = seal["sealed_at"].astimezone(UTC).isoformat()
    return _seal_of(content, seal.get("key_id"), keys)


def digest(entries: Iterable[tuple[int, str]]) -> str:
    """What a seal says of the entries it covers: their ids and hashes, in id order."""
    found = hashlib.sha256()
    for event_id, event_hash in entries:
        found.update(f"{event_id} {event_hash}\n".encode("ascii"))
    return found.hexdigest()


@dataclass(frozen=True)
class CaseChain:
    """Where a case's own chain stands: its number, entries so far and the last one's hash.

    A register entry's chain is held the same way, without a case number (None)."""

    number: str | None
    count: int
    hash: str


@dataclass
class Batch:
    """Entries chained and ready to write, with where their case's chain stands after them."""

    rows: list[dict[str, Any]]
    case: CaseChain | None


def chain(session: Session, entries: Sequence[Entry], case: CaseChain | None = None,
          client: str | None = None) -> Batch:
    """Chain ``entries`` in their case's chain (about the system when ``case`` is None).

    Takes no lock: a case's chain is serialised by the case's row version, which the step
    checks when it writes the case; the global order comes later, from the sealer
    (:func:`seal_pending`). Write the batch with :func:`write` in the same transaction.
    """
    keys = keys_of(session)
    rows: list[dict[str, Any]] = []
    case_hash = case.hash if case is not None else None
    case_seq = case.count if case is not None else 0
    for entry in entries:
        if case is not None:
            case_seq += 1
        row: dict[str, Any] = {
            "case_seq": case_seq if case else None,
            "case_number": case.number if case else None, "at": entry.at.astimezone(UTC),
            "actor_id": entry.actor_id, "actor_name": entry.actor_name,
            "action": entry.action, "entity": entry.entity, "field": entry.field,
            "old": jsonable(entry.old), "new": jsonable(entry.new), "reason": entry.reason,
            "meaning": entry.meaning, "version": entry.version, "client": client,
            "data": jsonable(entry.data), "prev_hash": None,
            "case_prev_hash": case_hash, "key_id": keys.current_id,
        }
        row["hash"] = entry_hash(row, keys)
        if case is not None:
            case_hash = row["hash"]
        rows.append(row)
    after = CaseChain(case.number, case_seq, case_hash or GENESIS) if case is not None else None
    return Batch(rows, after)


EVENTS = cast(Table, AuditEvent.__table__)
SEALS = cast(Table, AuditSeal.__table__)
HEAD = cast(Table, AuditHead.__table__)
#: The columns a step writes; the id comes from the table's sequence.
WRITTEN = [column for column in EVENTS.columns if column.name != "id"]
WRITTEN_TYPES = [(column.name, column.type) for column in WRITTEN]
LOCK_HEAD = (select(HEAD.c.last_id, HEAD.c.last_hash, HEAD.c.seal_seq).where(HEAD.c.id == 1)
             .with_for_update())
SEAL_BATCH = 5000  # entries per seal at most
#: How long the sealer waits for the steps writing entries now to commit; then it tries later.
SEAL_WAIT_MS = 200


def placed(batch: Batch, case_id: int | None = None,
           register_entry_id: int | None = None) -> list[dict[str, Any]]:
    """A chained batch's rows as written: about a case, a register entry, or (neither given)
    the system. Every row names both, as every statement writing them expects."""
    return [{**row, "case_id": case_id, "register_entry_id": register_entry_id}
            for row in batch.rows]


def write(session: Session, batch: Batch, case_id: int | None = None,
          register_entry_id: int | None = None) -> None:
    """Insert a chained batch (one statement on PostgreSQL), placed as :func:`placed` says."""
    write_rows(session, placed(batch, case_id, register_entry_id))


def write_rows(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert entries chained and placed (:func:`placed`; one statement on PostgreSQL)."""
    rowsets.insert_rows(session.connection(), EVENTS, WRITTEN_TYPES, rows)


def append(session: Session, entries: Sequence[Entry], client: str | None = None) -> None:
    """Chain and write entries about the system (accounts, definition versions); entries
    about a case go with the case's own write."""
    if entries:
        write(session, chain(session, entries, None, client))


@dataclass(frozen=True)
class Sealed:
    """What one run of the sealer did: the entries it sealed (0: none were waiting, or
    ``busy``: steps writing entries did not commit in time, so it left them for later)."""

    count: int
    busy: bool = False


def settled(session: Session, wait_ms: int | None = SEAL_WAIT_MS) -> int | None:
    """The highest entry id up to which every entry is committed, or None when the steps
    writing entries now did not commit within ``wait_ms``.

    On PostgreSQL a SHARE lock on the entries' table waits for the steps writing entries at
    that moment to commit (at most ``wait_ms``: steps queue behind the waiting lock, never
    longer); an id is taken from the sequence only while inserting, under a lock that one
    conflicts with, so every entry up to the highest id then seen is final, and every later
    one gets a higher id. Commit soon after (the lock blocks steps until then):
    :meth:`.CaseService.seal_audit` takes it in a transaction of its own and seals in the
    next, so steps wait only for this, not for the hashing and the seal's commit. On SQLite the
    transaction already holds the database's one write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        try:
            with session.begin_nested():
                session.execute(text(f"SET LOCAL lock_timeout = '{wait_ms or 0}ms'"))
                session.execute(text("LOCK TABLE audit_events IN SHARE MODE"))
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            return None
    return int(session.execute(select(func.coalesce(func.max(EVENTS.c.id), 0))).scalar_one())


def seal_pending(session: Session, now: datetime, limit: int = SEAL_BATCH,
                 wait_ms: int | None = SEAL_WAIT_MS, up_to: int | None = None) -> Sealed:
    """Seal up to ``limit`` entries not sealed yet, in one seal chained to the last one.

    The sealer's lock on the head keeps sealers in turn. Only entries up to ``up_to`` are
    sealed, a horizon :func:`settled` found in an earlier transaction; without it this
    transaction finds it (waiting at most ``wait_ms``) and holds its lock to the end. Every
    entry sealed is final: one that commits later has a higher id than the seal's last, or is
    sealed next time.
    """
    last_id, last_hash, seq = session.execute(LOCK_HEAD).one()
    if up_to is None:
        up_to = settled(session, wait_ms)
        if up_to is None:
            return Sealed(0, busy=True)
    rows = session.execute(select(EVENTS.c.id, EVENTS.c.hash)
                           .where(EVENTS.c.id > last_id, EVENTS.c.id <= up_to)
                           .order_by(EVENTS.c.id).limit(limit)).all()
    if not rows:
        return Sealed(0)
    keys = keys_of(session)
    seal: dict[str, Any] = {
        "seq": seq + 1, "first_id": rows[0].id, "last_id": rows[-1].id, "count": len(rows),
        "digest": digest((row.id, row.hash) for row in rows),
        "sealed_at": now.astimezone(UTC), "prev_hash": last_hash, "key_id": keys.current_id}
    seal["hash"] = seal_hash(seal, keys)
    session.execute(insert(SEALS).values(seal))
    session.execute(update(HEAD).where(HEAD.c.id == 1).values(
        last_id=seal["last_id"], last_hash=seal["hash"], seal_seq=seal["seq"]))
    return Sealed(len(rows))


def pending(session: Session) -> int:
    """How many entries wait for the sealer."""
    last_id = session.execute(select(HEAD.c.last_id).where(HEAD.c.id == 1)).scalar_one()
    return session.execute(select(func.count()).select_from(EVENTS)
                           .where(EVENTS.c.id > last_id)).scalar_one()


def seal(session: Session, now: datetime, by: By = SYSTEM) -> str | None:
    """Append an entry under the current key and seal every entry waiting, so that the trail
    ends under that key at once (after a key is first set or rotated); the key's id (None: the
    deployment has no key, and nothing is written)."""
    key_id = keys_of(session).current_id
    if key_id is None:
        return None
    session.execute(LOCK_HEAD)  # first: a sealer holding it waits for this transaction's entry
    append(session, [Entry("audit_sealed", "audit", now, by.id, by.name,
                           data={"key_id": key_id})])
    while seal_pending(session, now, wait_ms=None).count:
        pass
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


def _in_order(session: Session, key: Any, batch: int) -> Iterator[Any]:
    """Every row of ``key``'s model in ``key`` order (an integer column), ``batch`` rows per
    query, each batch forgotten by the session once the next is read (memory stays flat over
    millions of entries)."""
    after = 0
    while True:
        chunk = session.execute(select(key.class_).where(key > after).order_by(key)
                                .limit(batch)).scalars().all()
        if not chunk:
            return
        yield from chunk
        after = getattr(chunk[-1], key.key)
        session.expunge_all()


@dataclass(frozen=True)
class Anchor:
    """An entry's id and seal as written outside the database at some moment (``line``: where
    in the operator's anchor file)."""

    event_id: int
    hash: str
    line: int


def anchor_line(session: Session, now: datetime) -> str:
    """The last seal as one line for the operator's anchor file: ``id seal UTC-time`` (the
    last entry it covers and its hash)."""
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


class _Seals:
    """The seals checked against the entries they cover, as the walk by id reaches them."""

    def __init__(self, session: Session, keys: Keys, batch: int,
                 anchored: dict[int, Anchor]) -> None:
        self.keys = keys
        self.anchored = anchored
        self.rows: Iterator[AuditSeal] = _in_order(session, AuditSeal.seq, batch)
        self.current = next(self.rows, None)
        self.covered: list[tuple[int, str]] = []  # (id, hash) of the current seal's entries
        self.expected_seq = 1
        self.prev = GENESIS  # the hash the next seal chains to
        self.last: AuditSeal | None = None
        self.first_keyed: int | None = None
        self.breaks: list[Break] = []

    def add(self, event_id: int, event_hash: str) -> bool:
        """Count an entry written since seals exist; False when no seal covers it yet."""
        while self.current is not None and event_id > self.current.last_id:
            self._close()
        if self.current is None:
            return False
        self.covered.append((event_id, event_hash))
        return True

    def finish(self) -> None:
        """Close the seals left (after the last entry: each of them lost its entries)."""
        while self.current is not None:
            self._close()

    def _close(self) -> None:
        seal = self.current
        assert seal is not None
        problems = []
        if seal.seq != self.expected_seq or seal.prev_hash != self.prev:
            problems.append(f"it does not follow seal {self.expected_seq - 1}: seals were "
                            "removed, reordered or rewritten")
        try:
            content = {name: getattr(seal, name) for name in (*SEALED, "key_id")}
            if not hmac.compare_digest(seal_hash(content, self.keys), seal.hash):
                problems.append("its content does not match its hash: the seal was changed")
        except MissingKey as unknown:
            problems.append(f"it is sealed with audit key {unknown.args[0]}, which this "
                            "deployment does not hold: add that key to "
                            "QMSFLOW_AUDIT_KEY_FALLBACKS to check it")
        if seal.key_id is not None and self.first_keyed is None:
            self.first_keyed = seal.seq
        elif seal.key_id is None and self.first_keyed is not None:
            problems.append(f"it has no audit key though seal {self.first_keyed} has one: "
                            "the seals were recomputed without the key")
        if (len(self.covered), digest(self.covered)) != (seal.count, seal.digest):
            problems.append(f"it sealed {seal.count} entries up to entry {seal.last_id}, the "
                            f"trail now holds {len(self.covered)} there, or other ones: entries "
                            "were removed, added or changed")
        anchor = self.anchored.pop(seal.last_id, None)
        if anchor is not None and anchor.hash != seal.hash:
            problems.append(f"anchor line {anchor.line} recorded another seal here: the trail "
                            "up to here was rewritten since it was anchored")
        if problems and len(self.breaks) < MAX_BREAKS:
            self.breaks.append(Break(seal.last_id, None, f"seal {seal.seq}: "
                                     + "; ".join(problems)))
        self.expected_seq, self.prev, self.last = seal.seq + 1, seal.hash, seal
        self.covered = []
        self.current = next(self.rows, None)


def verify(session: Session, batch: int = 5000, anchors: Sequence[Anchor] = ()
           ) -> tuple[int, list[Break]]:
    """Walk the entries, their cases' chains and the seals; the number of entries checked and
    every break found.

    Each case's chain reports only its first break (what follows it cannot be trusted
    anyway). Entries written before seals existed chain globally themselves and come first;
    later ones are covered by the seals, except those the sealer has not reached yet
    (:func:`pending`), which only their cases' chains hold. With keys (see :class:`Keys`), the
    keyed part must run to its end, under the current key; every anchor must name an entry
    (or the last entry of a seal) that still carries the seal anchored.
    """
    keys = keys_of(session)
    breaks: list[Break] = []
    anchored = {anchor.event_id: anchor for anchor in anchors}
    seals = _Seals(session, keys, batch, anchored)
    chained_broken = False  # the chain of the entries written before seals
    expected_id, prev = 1, GENESIS
    cases: dict[int, tuple[int, str]] = {}  # case id -> (entries seen, last hash)
    broken_cases: set[int] = set()
    entries: dict[int, tuple[int, str]] = {}  # register entry id -> (entries seen, last hash)
    broken_entries: set[int] = set()
    unknown_keys: set[str] = set()
    first_keyed: int | None = None
    last_key: str | None = None
    first_sealed: int | None = None  # the first entry written since seals exist
    last_id = 0
    count = 0
    row: AuditEvent
    for row in _in_order(session, AuditEvent.id, batch):
        count += 1
        data = {name: getattr(row, name) for name in (*HASHED_CHAINED, "key_id")}
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
        if row.prev_hash is None:
            if first_sealed is None:
                first_sealed, seals.prev = row.id, prev
            seals.add(row.id, row.hash)
        elif first_sealed is not None:
            problems.append(f"it is chained the way entries were before entry {first_sealed}, "
                            "which came later: written around qmsflow")
        elif not chained_broken and (row.id != expected_id or row.prev_hash != prev):
            missing = (f"entries {expected_id}..{row.id - 1} are missing"
                       if row.id > expected_id else "it does not follow the entry before it")
            breaks.append(Break(row.id, row.case_number, f"global chain broken: {missing}"))
            chained_broken = True
        else:
            anchor = anchored.pop(row.id, None)
            if anchor is not None and anchor.hash != row.hash:
                problems.append(f"anchor line {anchor.line} recorded another seal for this "
                                "entry: the trail up to here was rewritten since it was "
                                "anchored")
            expected_id, prev = row.id + 1, row.hash
        if row.case_id is not None and row.case_id not in broken_cases:
            seen, last = cases.get(row.case_id, (0, GENESIS))
            if row.case_seq != seen + 1 or row.case_prev_hash != last:
                problems.append(f"the case's chain breaks here (entry {row.case_seq}, expected "
                                f"{seen + 1}): an entry before it was removed or changed")
            cases[row.case_id] = (seen + 1, row.hash)
        subject = row.register_entry_id
        if subject is not None and subject not in broken_entries:
            seen, last = entries.get(subject, (0, GENESIS))
            if row.case_seq != seen + 1 or row.case_prev_hash != last:
                about = row.data or {}
                problems.append(f"the chain of register entry {about.get('register')} "
                                f"'{about.get('key')}' breaks here (entry {row.case_seq}, "
                                f"expected {seen + 1}): an entry before it was removed or "
                                "changed")
            entries[subject] = (seen + 1, row.hash)
        if problems:
            if row.case_id is not None:
                broken_cases.add(row.case_id)
            if subject is not None:
                broken_entries.add(subject)
            if len(breaks) < MAX_BREAKS:
                breaks.append(Break(row.id, row.case_number, "; ".join(problems)))
        last_id = row.id
    if first_sealed is None:
        seals.prev = prev
    seals.finish()
    breaks += seals.breaks
    for anchor in anchored.values():
        breaks.append(Break(anchor.event_id, None, (
            f"anchor line {anchor.line} names this entry, which the trail no longer holds "
            "(or no seal ends at it): entries or seals were removed")))
    final_key = seals.last.key_id if seals.last is not None else last_key
    if count and keys.current_id is not None and final_key != keys.current_id:
        breaks.append(Break(last_id, None, (
            "the trail does not end under the current audit key: right after setting or "
            "rotating the key, run 'qmsflow audit seal'; otherwise the chain was recomputed "
            "without the key or cut back")))
    breaks += _head(session, seals.last, expected_id - 1, prev)
    breaks += _case_heads(session, cases, broken_cases)
    breaks += _entry_heads(session, entries, broken_entries)
    return count, breaks


def _head(session: Session, last: AuditSeal | None, chained_id: int, chained_hash: str
          ) -> list[Break]:
    """The head must name the last seal (or the last entry chained before seals existed)."""
    head = session.get(AuditHead, 1)
    if head is None:
        return []
    expected = ((last.last_id, last.hash, last.seq) if last is not None
                else (chained_id, chained_hash, 0))
    if (head.last_id, head.last_hash, head.seal_seq) == expected:
        return []
    return [Break(None, None, f"the chain head records entry {head.last_id} (seal "
                              f"{head.seal_seq}) as the last sealed, the trail ends at entry "
                              f"{expected[0]} (seal {expected[2]}): entries or seals were "
                              "removed from the end")]


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


def _entry_heads(session: Session, entries: Mapping[int, tuple[int, str]],
                 broken: Iterable[int]) -> list[Break]:
    """Each register entry must record the end of its own chain, as a case does."""
    skip = set(broken)
    found = []
    for entry_id, register, key, count, last in session.execute(
            select(RegisterEntryRow.id, RegisterEntryRow.register, RegisterEntryRow.key,
                   RegisterEntryRow.audit_count, RegisterEntryRow.audit_hash)):
        if entry_id in skip:
            continue
        seen, last_seen = entries.get(entry_id, (0, GENESIS))
        if (count, last) != (seen, last_seen):
            found.append(Break(None, None, f"register entry {register} '{key}' records {count} "
                                           f"audit entries, the trail holds {seen}: entries "
                                           "were removed"))
    return found
