"""Rows sent to PostgreSQL as one JSON document, turned back into a typed table in SQL.

A multi-row VALUES list is compiled again for every row count, and an array per column costs
psycopg a regular-expression escape per element; one JSON text (``json_to_recordset``) keeps a
statement's shape whatever the number of rows, so SQLAlchemy compiles it once, Python's C
encoder writes it, and one round trip carries all the rows. A JSON column's value travels as
its own JSON text and is cast back in SQL, so None is stored as JSON null, exactly as
SQLAlchemy's JSON type stores it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Executable,
    Table,
    Text,
    bindparam,
    column,
    func,
    insert,
    select,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.types import TypeEngine

Columns = Sequence[tuple[str, TypeEngine[Any]]]


def table(prefix: str, columns: Columns, name: str) -> Any:
    """The rows of the parameter ``{prefix}_rows`` (see :func:`params`) as a table.

    No parameter may be named like a column of a table that a statement updates: SQLAlchemy
    adds a SET clause to an UPDATE for every execution parameter named like one of them."""
    rows = func.json_to_recordset(sql_cast(bindparam(f"{prefix}_rows", type_=Text()), JSON())
                                  ).table_valued(*(
        column(name_, Text() if isinstance(kind, JSON) else kind) for name_, kind in columns)
    ).render_derived(name=f"{name}_rows", with_types=True)
    return select(*(sql_cast(rows.c[name_], JSON()).label(name_) if isinstance(kind, JSON)
                    else rows.c[name_] for name_, kind in columns)).subquery(name)


def _plain(value: object) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be sent as a row value")


def params(prefix: str, columns: Columns, rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The execution parameter that sends ``rows`` for :func:`table`."""
    # Which columns are JSON is decided once, not for every value (the sweep's batch sends
    # tens of thousands of rows a minute); the order of a row's keys does not matter.
    plain = [name for name, kind in columns if not isinstance(kind, JSON)]
    documents = [name for name, kind in columns if isinstance(kind, JSON)]
    encoded = [{**{name: row[name] for name in plain},
                **{name: json.dumps(row[name]) for name in documents}} for row in rows]
    return {f"{prefix}_rows": json.dumps(encoded, default=_plain)}


@functools.cache
def _insert(into: Table, columns: tuple[tuple[str, TypeEngine[Any]], ...]) -> Executable:
    rows = table(into.name, columns, f"{into.name}_new")
    return insert(into).from_select([name for name, _ in columns], select(*rows.c))


def insert_rows(connection: Connection, into: Table, columns: Columns,
                rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (each naming every one of ``columns``) into the table ``into``: one
    statement of one JSON document on PostgreSQL, built once per table; elsewhere a Core
    executemany (the ORM's bulk insert costs several times more per row).

    Measured on 8,500 outbox rows: an executemany took 60 µs of the client's CPU per row and
    100-118 µs in all, this 30-34 µs and 82-97 µs."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        connection.execute(_insert(into, tuple(columns)), params(into.name, columns, rows))
    else:
        connection.execute(insert(into), list(rows))
