"""Saving and loading the engine's cases: columns for what is filtered on, JSON for the rest.

Each fact lives in one place: state, priority, flags, assignee and times are columns, clocks,
steps and links are the ``data`` document, field values the ``values`` document; loading puts
them together again, and the round trip changes nothing. Clocks are also copied into
``case_clocks`` as indexed columns for inboxes and the deadline sweep.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    Column,
    Executable,
    Table,
    bindparam,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..cases import Case, ClockState, from_dict, to_dict
from ..errors import QmsflowError
from ..machine import case_number
from ..model import DefinitionSet, Process
from . import audit
from .audit import GENESIS
from .models import CaseClock, CaseRow, CaseSequence

CASES = cast(Table, CaseRow.__table__)
COLUMNS = ("number", "process", "version", "state", "priority", "flags", "assignee_role",
           "assignee", "row_version", "created_at", "updated_at", "closed_at")
IN_DATA = ("clocks", "steps", "links", "priority_override")


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


def to_case(definition: DefinitionSet, row: CaseRow) -> Case:
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


def update_case(session: Session, definition: DefinitionSet, case_id: int, old: Case,
                new: Case, extra: Mapping[str, Any] | None = None,
                entries: audit.Batch | None = None) -> None:
    """Write ``new`` over ``old`` with its changed clocks and its audit ``entries``, only if
    the row still holds ``old``'s version.

    Optimistic locking: the UPDATE names the row version that was read; when another
    transaction changed the case first it finds no row, nothing is written, and Conflict is
    raised (on PostgreSQL after waiting for that transaction to end, so the answer is never a
    guess). On PostgreSQL it is all one statement, one round trip.
    """
    values = {**columns(definition, new), **(extra or {})}
    added, changed = _clock_changes(definition, case_id, old.clocks, new)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        rows = [{**row, "case_id": case_id} for row in entries.rows] if entries else []
        written = connection.execute(_one_statement(tuple(sorted(values))), {
            **{f"case_{name}": value for name, value in values.items()},
            "key_id": case_id, "key_version": old.row_version,
            **{f"changed_{name}": [row[name] for row in changed] for name in CLOCK_COLUMNS},
            **{f"added_{name}": [row[name] for row in added] for name in CLOCK_COLUMNS},
            **{f"entry_{c.name}": [row[c.name] for row in rows] for c in audit.WRITTEN},
        }).scalar_one()
    else:
        written = connection.execute(
            update(CASES).where(CASES.c.id == case_id, CASES.c.row_version == old.row_version)
            .values(**values)).rowcount
        if written == 1:
            _write_clocks(session, case_id, added, changed)
            if entries is not None:
                audit.write(session, entries, case_id)
    if written != 1:
        raise Conflict(f"case {old.number} was changed by someone else while you worked on "
                       "it; nothing was saved: reload it and take the step again")


CLOCKS = cast(Table, CaseClock.__table__)
CLOCK_COLUMNS = tuple(c.name for c in CLOCKS.columns if c.name != "case_id")


def _unnested(prefix: str, columns: Sequence[Column[Any]], name: str) -> Any:
    """A table of rows sent as one typed array per column (``{prefix}_{column}``): the
    statement's shape does not depend on how many rows there are, so it compiles once."""
    arrays = [sql_cast(bindparam(f"{prefix}_{c.name}", type_=ARRAY(c.type)), ARRAY(c.type))
              for c in columns]
    return func.unnest(*arrays).table_valued(*(c.name for c in columns)).render_derived(
        name=name)


@functools.cache
def _one_statement(names: tuple[str, ...]) -> Executable:
    """PostgreSQL: the case row (its version checked), its changed and new clocks and its
    audit entries in one statement; it returns how many case rows it updated (0: a conflict,
    and then the clocks and entries are not written either: they join the updated row)."""
    updated = (update(CASES).where(CASES.c.id == bindparam("key_id"),
                                   CASES.c.row_version == bindparam("key_version"))
               .values({name: bindparam(f"case_{name}", type_=CASES.c[name].type)
                        for name in names})
               .returning(CASES.c.id).cte("updated"))
    clock_columns = [c for c in CLOCKS.columns if c.name != "case_id"]
    changed = _unnested("changed", clock_columns, "changed")
    added = _unnested("added", clock_columns, "added")
    entries = _unnested("entry", audit.WRITTEN, "entries")
    clocks_changed = (update(CLOCKS)
                      .where(CLOCKS.c.case_id == updated.c.id, CLOCKS.c.clock == changed.c.clock)
                      .values({name: changed.c[name] for name in CLOCK_COLUMNS if name != "clock"})
                      .cte("clocks_changed"))
    clocks_added = insert(CLOCKS).from_select(
        ["case_id", *CLOCK_COLUMNS],
        select(updated.c.id, *(added.c[name] for name in CLOCK_COLUMNS))
        .select_from(updated.join(added, true()))).cte("clocks_added")
    written = [c.name for c in audit.WRITTEN if c.name != "case_id"]
    entries_added = insert(audit.EVENTS).from_select(
        ["case_id", *written],
        select(updated.c.id, *(entries.c[name] for name in written))
        .select_from(updated.join(entries, true()))).cte("entries_added")
    return (select(func.count()).select_from(updated)
            .add_cte(clocks_changed, clocks_added, entries_added))


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
