"""A read-only overview of a database: whether it has a schema, what its cases hold, whose they are.

For callers above persistence that need a look at the database as a whole (``qmsflow demo``)
without importing SQLAlchemy or Alembic themselves: the questions are answered here and the
database libraries' errors about URLs and migrations come back as :class:`DatabaseUrlError`
and :class:`SchemaUpgradeError`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from alembic.util import CommandError
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from ..errors import QmsflowError
from .db import DatabaseUrlError
from .models import CaseClock, CaseRow, User
from .records import UserRecord

__all__ = [
    "DatabaseUrlError", "SchemaUpgradeError", "case_count", "has_schema", "is_sqlite",
    "open_numbers", "running_deadlines", "sqlite_file", "states_held", "states_of",
    "translated_errors", "users_by_id",
]


class SchemaUpgradeError(QmsflowError, RuntimeError):
    """Alembic could not bring the schema up to date (an unknown revision, for instance)."""


@contextmanager
def translated_errors() -> Iterator[None]:
    """Raise the database libraries' set-up errors met in the block as persistence's own.

    A URL SQLAlchemy cannot parse or whose driver it cannot load becomes
    :class:`DatabaseUrlError`; an Alembic command error becomes :class:`SchemaUpgradeError`.
    The message stays the library's.
    """
    try:
        yield
    except ArgumentError as error:
        raise DatabaseUrlError(str(error)) from error
    except CommandError as error:
        raise SchemaUpgradeError(str(error)) from error


def _parsed(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as error:
        raise DatabaseUrlError(str(error)) from error


# -- the URL ------------------------------------------------------------------------------------

def is_sqlite(url: str) -> bool:
    """Whether ``url`` names a SQLite database (a file or in memory).

    Raises :class:`DatabaseUrlError` when ``url`` does not parse.
    """
    return _parsed(url).get_backend_name() == "sqlite"


def sqlite_file(url: str) -> Path | None:
    """The file of the SQLite database at ``url``; None for in-memory SQLite or another database.

    Raises :class:`DatabaseUrlError` when ``url`` does not parse.
    """
    parsed = _parsed(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return None if parsed.database == ":memory:" else Path(parsed.database)


# -- the database -------------------------------------------------------------------------------

def has_schema(engine: Engine) -> bool:
    """Whether the database behind ``engine`` has qmsflow's cases table (at any revision)."""
    return bool(inspect(engine).has_table(CaseRow.__tablename__))


def case_count(session: Session) -> int:
    """How many cases the database holds, voided ones included."""
    return int(session.execute(select(func.count()).select_from(CaseRow)).scalar_one())


def states_held(session: Session) -> dict[tuple[str, str], int]:
    """(process, state) -> how many cases that are not voided rest there; only states held."""
    rows = session.execute(select(CaseRow.process, CaseRow.state, func.count())
                           .where(CaseRow.voided_at.is_(None))
                           .group_by(CaseRow.process, CaseRow.state)).all()
    return {(process, state): int(count) for process, state, count in rows}


def states_of(session: Session, numbers: Collection[str]) -> frozenset[tuple[str, str]]:
    """The (process, state) pairs the cases numbered ``numbers`` rest in (unknown ones skipped)."""
    rows = session.execute(select(CaseRow.process, CaseRow.state)
                           .where(CaseRow.number.in_(numbers))).all()
    return frozenset((process, state) for process, state in rows)


def open_numbers(session: Session) -> list[str]:
    """The numbers of the open cases that are not voided, oldest first (by creation order)."""
    return list(session.execute(select(CaseRow.number).where(
        CaseRow.closed_at.is_(None), CaseRow.voided_at.is_(None))
        .order_by(CaseRow.id)).scalars().all())


def running_deadlines(session: Session) -> list[tuple[int, datetime, datetime | None]]:
    """(case id, due at, warn at) of each running clock of an open case that is not voided.

    A case with several running clocks appears once per clock; the case id tells them apart.
    """
    rows = session.execute(select(CaseClock.case_id, CaseClock.due_at, CaseClock.warn_at)
                           .join(CaseRow, CaseRow.id == CaseClock.case_id).where(
        CaseClock.status == "running", CaseRow.closed_at.is_(None),
        CaseRow.voided_at.is_(None))).all()
    return [(case_id, due_at, warn_at) for case_id, due_at, warn_at in rows]


def users_by_id(session: Session, ids: Collection[str]) -> dict[str, UserRecord]:
    """The accounts among ``ids`` that exist, by id (disabled ones included)."""
    return {user.id: UserRecord.of(user) for user in session.execute(
        select(User).where(User.id.in_(list(ids)))).scalars()}
