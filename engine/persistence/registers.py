"""Register entries: create, change, find and read them, every change audited.

A register entry (a customer, an installed device, a loaner) is kept like a case: its values
as JSON in one row, a row version that a change must name (optimistic locking: whoever saves
second is refused and loses nothing), and an audit chain of its own, written in the same
transaction as the change (``case_seq`` and ``case_prev_hash`` of its entries, with
``register_entry_id`` saying whose chain it is), sealed globally by the sealer with every other
entry. :mod:`.proof` rebuilds each entry's values from its trail, so a value changed around
qmsflow is found by ``qmsflow audit verify``.

The functions take the session of the caller's transaction, as :mod:`.users` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, func, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from ..errors import QmsflowError
from ..model import DefinitionSet, Register, text
from ..registers import EntryInvalid, entry_values
from ..values import display, from_json, to_json
from . import audit
from .audit import SYSTEM, By, Entry
from .models import AuditEvent, RegisterEntryRow
from .records import AuditRecord

#: The entity of every audit entry about a register entry.
ENTITY = "register_entry"
#: Most entries one search returns.
PAGE_MAX = 200


class UnknownRegister(QmsflowError, LookupError):
    """The definitions declare no register of that id."""


class EntryNotFound(QmsflowError, LookupError):
    """No entry with that key in the register."""


class EntryConflict(QmsflowError):
    """Someone else changed the entry since it was read: nothing was written."""


@dataclass(frozen=True)
class EntryRecord:
    """One register entry as a reader sees it: typed values, and the row version to change
    it with."""

    id: int
    register: str
    key: str
    title: str | None
    values: Mapping[str, Any]
    row_version: int
    created_at: datetime
    updated_at: datetime


def register_of(definition: DefinitionSet, register_id: str) -> Register:
    """The register ``register_id`` of the definitions (UnknownRegister otherwise)."""
    found = definition.registers.get(register_id)
    if found is None:
        raise UnknownRegister(f"no register {register_id!r}; known: "
                              + ", ".join(sorted(definition.registers)))
    return found


def _record(register: Register, row: RegisterEntryRow) -> EntryRecord:
    values = {name: from_json(register.fields[name], value)
              for name, value in (row.values or {}).items() if name in register.fields}
    return EntryRecord(row.id, row.register, row.key, row.title, values, row.row_version,
                       row.created_at, row.updated_at)


def _row(session: Session, register: Register, key: str) -> RegisterEntryRow:
    row = session.execute(select(RegisterEntryRow).where(
        RegisterEntryRow.register == register.id, RegisterEntryRow.key == key)
    ).scalar_one_or_none()
    if row is None:
        raise EntryNotFound(f"{register.id} has no entry '{key}'")
    return row


def get(session: Session, definition: DefinitionSet, register_id: str, key: str) -> EntryRecord:
    """The entry ``key`` of the register (EntryNotFound when there is none)."""
    register = register_of(definition, register_id)
    return _record(register, _row(session, register, key))


def _search_text(register: Register, values: Mapping[str, Any]) -> str:
    """The searched fields' text, lower case, one per line (what the search box matches)."""
    return "\n".join(str(values[name]).casefold() for name in register.search
                     if values.get(name) is not None)


def _references(session: Session, definition: DefinitionSet, register: Register,
                values: Mapping[str, Any]) -> None:
    """Every reference must name an entry its register holds."""
    problems = {}
    for name, target in register.references().items():
        key = values.get(name)
        if key is None:
            continue
        exists = session.execute(select(RegisterEntryRow.id).where(
            RegisterEntryRow.register == target, RegisterEntryRow.key == key)).first()
        if exists is None:
            label = text(definition.registers[target].label, "en") if (
                target in definition.registers) else target
            problems[name] = f"'{key}' is not an entry of {label}: register it there first"
    if problems:
        raise EntryInvalid(register, problems)


def _chain(session: Session, row: RegisterEntryRow, entries: Sequence[Entry],
           client: str | None) -> None:
    head = audit.CaseChain(None, row.audit_count, row.audit_hash)
    batch = audit.chain(session, entries, head, client)
    audit.write(session, batch, register_entry_id=row.id)
    assert batch.case is not None
    row.audit_count, row.audit_hash = batch.case.count, batch.case.hash


def create(session: Session, definition: DefinitionSet, register_id: str,
           raw: Mapping[str, Any], now: datetime, by: By = SYSTEM,
           client: str | None = None) -> EntryRecord:
    """A new entry from ``raw`` (field id -> what was typed); EntryInvalid lists every field
    that does not fit, a key the register already holds and a reference to no entry."""
    register = register_of(definition, register_id)
    values = entry_values(register, raw, now)
    key = values[register.key]
    taken = session.execute(select(RegisterEntryRow.id).where(
        RegisterEntryRow.register == register.id, RegisterEntryRow.key == key)).first()
    if taken is not None:
        raise EntryInvalid(register, {register.key: f"'{key}' is already registered: "
                                                    "open that entry to change it"})
    _references(session, definition, register, values)
    stored = {name: to_json(register.fields[name], value) for name, value in values.items()}
    row = RegisterEntryRow(
        register=register.id, key=key, title=_title(register, values), values=stored,
        search_text=_search_text(register, values), row_version=1, audit_count=0,
        audit_hash=audit.GENESIS, created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    about = {"register": register.id, "key": key}
    entries = [Entry("entry_created", ENTITY, now, by.id, by.name, version=definition.version,
                     data=about)]
    entries += [Entry("field_changed", ENTITY, now, by.id, by.name, field=name,
                      new=stored[name], data=about) for name in register.fields
                if name in stored]
    _chain(session, row, entries, client)
    return _record(register, row)


def update(session: Session, definition: DefinitionSet, register_id: str, key: str,
           raw: Mapping[str, Any], row_version: int, now: datetime, by: By = SYSTEM,
           reason: str | None = None, client: str | None = None,
           source: Mapping[str, str] | None = None) -> EntryRecord:
    """Change the fields ``raw`` names; the others keep their values. ``row_version`` is the
    version the change was made on: another since refuses it (EntryConflict), nothing written.
    The key names the entry and does not change. ``source``: where the change came from,
    kept in each audit entry (a case step's ``case`` number and ``step``)."""
    register = register_of(definition, register_id)
    row = _row(session, register, key)
    if not row.values:  # a live entry holds its key at least: this one was disposed of
        raise EntryConflict(f"{register.id} '{key}' was disposed of at the end of its "
                            "retention: it cannot be changed")
    if row.row_version != row_version:
        raise EntryConflict(f"{register.id} '{key}' was changed by someone else since it was "
                            f"read (version {row_version}, now {row.row_version}): reload it "
                            "and make the change again")
    before = _record(register, row).values
    values = entry_values(register, raw, now, start=before)
    if values.get(register.key) != key:
        raise EntryInvalid(register, {register.key: "the key names the entry and cannot be "
                                                    "changed: register a new entry instead"})
    _references(session, definition, register, values)
    stored = {name: to_json(register.fields[name], value) for name, value in values.items()}
    held = row.values or {}
    about = {"register": register.id, "key": key, **(source or {})}
    entries = [Entry("field_changed", ENTITY, now, by.id, by.name, field=name,
                     old=held.get(name), new=stored.get(name), reason=reason,
                     version=definition.version, data=about)
               for name in register.fields if held.get(name) != stored.get(name)]
    if not entries:
        return _record(register, row)
    # The version check and the write are one statement's condition: two savers never both
    # pass it, whatever the backend's isolation.
    claimed = session.execute(
        sql_update(RegisterEntryRow)
        .where(RegisterEntryRow.id == row.id, RegisterEntryRow.row_version == row_version)
        .values(row_version=row_version + 1, values=stored, title=_title(register, values),
                search_text=_search_text(register, values), updated_at=now)
        .execution_options(synchronize_session=False))
    assert isinstance(claimed, CursorResult)
    if claimed.rowcount != 1:
        raise EntryConflict(f"{register.id} '{key}' was changed by someone else meanwhile: "
                            "reload it and make the change again")
    session.refresh(row)
    _chain(session, row, entries, client)
    return _record(register, row)


def _title(register: Register, values: Mapping[str, Any]) -> str | None:
    if register.title is None or values.get(register.title) is None:
        return None
    return str(values[register.title])[:500]


@dataclass(frozen=True)
class Found:
    """One page of a search: its entries and how many match in all."""

    entries: list[EntryRecord]
    total: int


def search(session: Session, definition: DefinitionSet, register_id: str, query: str = "",
           limit: int = 50, offset: int = 0) -> Found:
    """Entries whose key or searched fields contain ``query`` (any case), by key."""
    register = register_of(definition, register_id)
    where = [RegisterEntryRow.register == register.id]
    words = query.casefold().split()
    for word in words:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(RegisterEntryRow.search_text.like(f"%{escaped}%", escape="\\"))
    total = session.execute(select(func.count()).select_from(RegisterEntryRow)
                            .where(*where)).scalar_one()
    rows = session.execute(select(RegisterEntryRow).where(*where)
                           .order_by(RegisterEntryRow.key)
                           .limit(max(1, min(limit, PAGE_MAX))).offset(max(0, offset))
                           ).scalars().all()
    return Found([_record(register, row) for row in rows], total)


def history(session: Session, definition: DefinitionSet, register_id: str,
            key: str) -> list[AuditRecord]:
    """The entry's audit trail, oldest first."""
    register = register_of(definition, register_id)
    row = _row(session, register, key)
    return [AuditRecord.of(event) for event in session.execute(
        select(AuditEvent).where(AuditEvent.register_entry_id == row.id)
        .order_by(AuditEvent.case_seq)).scalars()]


def shown(definition: DefinitionSet, register_id: str, record: EntryRecord, locale: str,
          names: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each value of an entry as a person reads it in ``locale``."""
    register = register_of(definition, register_id)
    return {name: display(spec, record.values.get(name), locale, names)
            for name, spec in register.fields.items()}
