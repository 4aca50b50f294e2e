"""Saving and loading the engine's cases: columns for what is filtered on, JSON for the rest.

Each fact lives in one place: state, priority, flags, assignee and times are columns, clocks,
steps and links are the ``data`` document, field values the ``values`` document; loading puts
them together again, and the round trip changes nothing. Clocks are also copied into
``case_clocks`` as indexed columns for inboxes and the deadline sweep.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..cases import Case, ClockState, from_dict, to_dict
from ..errors import QmsflowError
from ..machine import case_number
from ..model import DefinitionSet, Process
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
    _write_clocks(session, definition, case_id, {}, case)
    return case_id


def update_case(session: Session, definition: DefinitionSet, case_id: int, old: Case,
                new: Case, extra: Mapping[str, Any] | None = None) -> None:
    """Write ``new`` over ``old``, only if the row still holds ``old``'s version.

    Optimistic locking: the UPDATE names the row version that was read; when another
    transaction changed the case first it finds no row, and Conflict is raised (on PostgreSQL
    after waiting for that transaction to end, so the answer is never a guess).
    """
    result = session.connection().execute(
        update(CASES).where(CASES.c.id == case_id, CASES.c.row_version == old.row_version)
        .values(**columns(definition, new), **(extra or {})))
    if result.rowcount != 1:
        raise Conflict(f"case {old.number} was changed by someone else while you worked on "
                       "it; nothing was saved: reload it and take the step again")
    _write_clocks(session, definition, case_id, old.clocks, new)


def _write_clocks(session: Session, definition: DefinitionSet, case_id: int,
                  old: Mapping[str, ClockState], case: Case) -> None:
    new = case.clocks
    specs = definition.process(case.process).clocks
    after = {cid for cid, spec in specs.items() if spec.runs_after_close}
    added = [clock_columns(case_id, c, c.id in after) for cid, c in new.items() if cid not in old]
    if added:
        session.execute(insert(CaseClock), added)
    changed = [clock_columns(case_id, c, c.id in after) for cid, c in new.items()
               if cid in old and old[cid] != c]
    if changed:
        # One executemany for every changed clock of the step.
        table = cast(Table, CaseClock.__table__)
        session.connection().execute(
            update(table).where(table.c.case_id == bindparam("key_case"),
                                table.c.clock == bindparam("key_clock")),
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
