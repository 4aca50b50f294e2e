"""Rows sent to PostgreSQL as one typed array per column, unnested into a table in SQL.

A multi-row VALUES list is compiled again for every row count; arrays keep a statement's shape
whatever the number of rows, so SQLAlchemy compiles it once and one round trip carries them
all. JSON values travel as text and are cast in SQL: an array of JSON bound as such would take
a value that is itself a list for one more dimension of the array.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Text, bindparam, func
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import TypeEngine

Columns = Sequence[tuple[str, TypeEngine[Any]]]


def table(prefix: str, columns: Columns, name: str) -> Any:
    """The rows of the parameters ``{prefix}_{column}`` (see :func:`params`) as a table.

    No prefix may make a column name of a table that a statement updates ("case" + "_id"
    would): SQLAlchemy adds a SET clause to an UPDATE for every execution parameter named
    like a column of its table."""
    arrays = []
    for column, kind in columns:
        sent = Text() if isinstance(kind, JSON) else kind
        arrays.append(sql_cast(bindparam(f"{prefix}_{column}", type_=ARRAY(sent)), ARRAY(kind)))
    return func.unnest(*arrays).table_valued(*(column for column, _ in columns)
                                             ).render_derived(name=name)


def params(prefix: str, columns: Columns, rows: Iterable[Mapping[str, Any]]
           ) -> dict[str, list[Any]]:
    """The execution parameters that send ``rows`` for :func:`table`."""
    rows = list(rows)
    sent: dict[str, list[Any]] = {}
    for column, kind in columns:
        values = [row[column] for row in rows]
        if isinstance(kind, JSON):  # as SQLAlchemy's JSON type writes it (null for None)
            values = [json.dumps(value) for value in values]
        sent[f"{prefix}_{column}"] = values
    return sent
