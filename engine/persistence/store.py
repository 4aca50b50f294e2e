"""Saving and loading the engine's cases: columns for what is filtered on, JSON for the rest.

Each fact lives in one place: state, priority, flags, assignee and times are columns, clocks,
steps and links are the ``data`` document, field values the ``values`` document; loading puts
them together again, and the round trip changes nothing. Clocks are also copied into
``case_clocks`` as indexed columns for inboxes and the deadline sweep.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from sqlalchemy import (
    Executable,
    Integer,
    Table,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..cases import Case, ClockState, from_dict, to_dict
from ..errors import QmsflowError
from ..machine import case_number
from ..model import DefinitionSet, Process
from . import audit, rowsets
from .audit import GENESIS
from .models import CaseClock, CaseRow, CaseSequence

CASES = cast(Table, CaseRow.__table__)
COLUMNS = ("number", "process", "version", "state", "priority", "flags", "assignee_role",
           "assignee", "row_version", "created_at", "updated_at", "closed_at")
IN_DATA = ("clocks", "steps", "links", "priority_override")


class StoredRow(Protocol):
    """A case's row as read to act on it: a :class:`.CaseRow`, or a Core row of the cases
    table's columns (a step reads its case that way, without the ORM's cost)."""

    id: int
    number: str
    process: str
    version: str
    state: str
    priority: str
    flags: list[Any]
    assignee_role: str | None
    assignee: str | None
    values: dict[str, Any]
    data: dict[str, Any]
    row_version: int
    audit_count: int
    audit_hash: str
    valid_signatures: int
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None


class Conflict(QmsflowError):
    """Someone else changed the case since it was read: nothing was written."""


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def columns(definition: DefinitionSet, case: Case) -> dict[str, Any]:
    """The row's column values for ``case``."""
    data = to_dict(definition, case)
    process = definition.process(case.process)
    running = [c.due_at for c in case.clocks.values() if c.status == "running"]
    category = case.values.get(process.category_field) if process.category_field else None
    row = {name: data[name] for name in COLUMNS}
    row.update(
        created_at=case.created_at, updated_at=case.updated_at, closed_at=case.closed_at,
        values=data["values"], data={name: data[name] for name in IN_DATA},
        category=str(category) if category is not None else None,
        next_due_at=min(running) if running else None)
    return row


def to_case(definition: DefinitionSet, row: StoredRow) -> Case:
    """The engine's case from its row."""
    data: dict[str, Any] = {name: getattr(row, name) for name in COLUMNS}
    for name in ("created_at", "updated_at", "closed_at"):
        value = data[name]
        data[name] = value.isoformat() if value else None
    data.update(row.data, values=row.values)
    return from_dict(definition, data)


def insert_case(session: Session, definition: DefinitionSet, case: Case,
                extra: Mapping[str, Any] | None = None) -> int:
    """Insert a new case (``extra``: further columns, e.g. its audit chain head); its row id."""
    values = {"audit_count": 0, "audit_hash": GENESIS, **columns(definition, case),
              **(extra or {})}
    case_id = session.execute(insert(CaseRow).values(values).returning(CaseRow.id)).scalar_one()
    _write_clocks(session, case_id, *_clock_changes(definition, case_id, {}, case))
    return case_id


#: Where a transaction collects case writes to make at once (a list of :class:`CaseWrite`):
#: while set in ``session.info``, the service's case writes are appended to it instead of
#: made; whoever set it makes them with :func:`update_cases` before the commit (the deadline
#: sweep's batch does).
DEFERRED_WRITES = "qmsflow.deferred_writes"


@dataclass(frozen=True)
class CaseWrite:
    """A case to write over the version it was read at: its row's new columns, the
    ``case_clocks`` rows it adds and changes, and its audit entries."""

    case_id: int
    number: str
    read_version: int
    values: Mapping[str, Any]
    added: list[dict[str, Any]]
    changed: list[dict[str, Any]]
    entries: list[dict[str, Any]]


def case_write(definition: DefinitionSet, case_id: int, old: Case, new: Case,
               extra: Mapping[str, Any] | None = None,
               entries: audit.Batch | None = None) -> CaseWrite:
    """What writing ``new`` over ``old`` takes (see :func:`update_cases`)."""
    added, changed = _clock_changes(definition, case_id, old.clocks, new)
    return CaseWrite(case_id, old.number, old.row_version,
                     {**columns(definition, new), **(extra or {})}, added, changed,
                     audit.placed(entries, case_id) if entries else [])


def update_cases(session: Session, writes: Sequence[CaseWrite]) -> None:
    """Write cases with their clocks and audit entries, each only if its row still holds the
    version it was read at.

    Optimistic locking: the UPDATE names the row version that was read; when another
    transaction changed a case first it finds no row, and Conflict is raised (on PostgreSQL
    after waiting for that transaction to end, so the answer is never a guess): roll back,
    nothing of it stands. On PostgreSQL the cases (one step's, or the deadline sweep's batch)
    with their clocks and entries are one statement, a case whose version does not match
    getting neither its clocks nor its entries (see :mod:`.rowsets`). Measured on one step
    (bench/persistence_bench.py), that statement takes 1.6-2.1 ms in the server where the
    three it replaces took about 2.0 ms, plus SQLAlchemy's work and a round trip for each;
    SQLite takes them one by one.
    """
    if not writes:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        by_columns: dict[tuple[str, ...], list[CaseWrite]] = {}
        for write in writes:
            by_columns.setdefault(tuple(sorted(write.values)), []).append(write)
        written: set[int] = set()
        for names, group in by_columns.items():
            cases = [{"id": w.case_id, "key_version": w.read_version, **w.values}
                     for w in group]
            written.update(connection.execute(_write_many(names), {
                **rowsets.params("set", _case_columns(names), cases),
                **rowsets.params("clk_added", CLOCK_TYPES, (r for w in group for r in w.added)),
                **rowsets.params("clk_changed", CLOCK_TYPES,
                                (r for w in group for r in w.changed)),
                **rowsets.params("ent", audit.WRITTEN_TYPES,
                                (r for w in group for r in w.entries))}).scalars())
    else:
        written = set()
        for write in writes:
            if connection.execute(update(CASES).where(
                    CASES.c.id == write.case_id, CASES.c.row_version == write.read_version)
                    .values(**write.values)).rowcount == 1:
                written.add(write.case_id)
                _write_clocks(session, write.case_id, write.added, write.changed)
                if write.entries:
                    audit.write_rows(session, write.entries)
    lost = [write.number for write in writes if write.case_id not in written]
    if lost:
        raise Conflict(f"case {', '.join(lost)} was changed by someone else while you worked "
                       "on it; nothing was saved: reload it and take the step again")


CLOCKS = cast(Table, CaseClock.__table__)
CLOCK_COLUMNS = tuple(c.name for c in CLOCKS.columns)
CLOCK_TYPES = [(c.name, c.type) for c in CLOCKS.columns]


def _case_columns(names: Sequence[str]) -> rowsets.Columns:
    return [("id", CASES.c.id.type), ("key_version", Integer()),
            *((name, CASES.c[name].type) for name in names)]


@functools.cache
def _write_many(names: tuple[str, ...]) -> Executable:
    """PostgreSQL: case rows (each version checked) with their changed and new clocks and
    their audit entries, in one statement that returns the ids of the cases it updated.
    Clocks and entries join the updated rows: a case whose version did not match gets none."""
    cases = rowsets.table("set", _case_columns(names), "v")
    updated = (update(CASES).where(CASES.c.id == cases.c.id,
                                   CASES.c.row_version == cases.c.key_version)
               .values({name: cases.c[name] for name in names})
               .returning(CASES.c.id).cte("updated"))
    changed = rowsets.table("clk_changed", CLOCK_TYPES, "changed")
    added = rowsets.table("clk_added", CLOCK_TYPES, "added")
    entries = rowsets.table("ent", audit.WRITTEN_TYPES, "entries")
    clocks_changed = (update(CLOCKS)
                      .where(CLOCKS.c.case_id == changed.c.case_id,
                             CLOCKS.c.clock == changed.c.clock,
                             changed.c.case_id == updated.c.id)
                      .values({name: changed.c[name] for name in CLOCK_COLUMNS
                               if name not in ("case_id", "clock")})
                      .cte("clocks_changed"))
    clocks_added = insert(CLOCKS).from_select(
        list(CLOCK_COLUMNS), select(*(added.c[name] for name in CLOCK_COLUMNS))
        .select_from(added.join(updated, updated.c.id == added.c.case_id))
    ).cte("clocks_added")
    names_written = [c.name for c in audit.WRITTEN]
    entries_added = insert(audit.EVENTS).from_select(
        names_written, select(*(entries.c[name] for name in names_written))
        .select_from(entries.join(updated, updated.c.id == entries.c.case_id))
    ).cte("entries_added")
    return select(updated.c.id).add_cte(clocks_changed, clocks_added, entries_added)


def _clock_changes(definition: DefinitionSet, case_id: int, old: Mapping[str, ClockState],
                   case: Case) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``case_clocks`` rows to insert and to update for ``case``, whose clocks were
    ``old``."""
    new = case.clocks
    specs = definition.process(case.process).clocks
    after = {cid for cid, spec in specs.items() if spec.runs_after_close}
    added = [clock_columns(case_id, c, c.id in after) for cid, c in new.items() if cid not in old]
    changed = [clock_columns(case_id, c, c.id in after) for cid, c in new.items()
               if cid in old and old[cid] != c]
    return added, changed


def _write_clocks(session: Session, case_id: int, added: list[dict[str, Any]],
                  changed: list[dict[str, Any]]) -> None:
    if added:
        session.execute(insert(CaseClock), added)
    if changed:
        # One executemany for every changed clock of the step.
        session.connection().execute(
            update(CLOCKS).where(CLOCKS.c.case_id == bindparam("key_case"),
                                 CLOCKS.c.clock == bindparam("key_clock")),
            [{**{k: v for k, v in row.items() if k not in ("case_id", "clock")},
              "key_case": case_id, "key_clock": row["clock"]} for row in changed])


def clock_columns(case_id: int, clock: ClockState, after_close: bool = False
                  ) -> dict[str, Any]:
    """The ``case_clocks`` row of one clock (``after_close``: its definition lets it run
    after the case is closed)."""
    return {"case_id": case_id, "clock": clock.id, "variant": clock.variant,
            "status": clock.status, "due_at": clock.due_at, "warn_at": clock.warn_at,
            "warned": clock.warned, "breached": clock.breached, "after_close": after_close}


def find_case(session: Session, number: str) -> CaseRow | None:
    """The row of case ``number``."""
    return session.execute(select(CaseRow).where(CaseRow.number == number)).scalar_one_or_none()


def _period(process: Process, local: datetime) -> str:
    return {"yearly": f"{local.year:04d}", "monthly": f"{local.year:04d}-{local.month:02d}"
            }.get(process.case_number_reset, "")


def next_number(session: Session, process: Process, local_now: datetime) -> str:
    """Take the next case number of ``process`` in this transaction.

    One atomic upsert: on PostgreSQL it locks the sequence row until the transaction ends, so
    concurrent creators queue for it, and a transaction that rolls back gives its number back
    (the sequence has no gaps).
    """
    period = _period(process, local_now)
    dialect = session.get_bind().dialect.name
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = upsert(CaseSequence).values(process=process.id, period=period, value=1)
    sequence = session.execute(statement.on_conflict_do_update(
        index_elements=["process", "period"], set_={"value": CaseSequence.value + 1},
    ).returning(CaseSequence.value)).scalar_one()
    return case_number(process, local_now, sequence)
