"""Statements over many keys or rows whose text does not grow with how many there are.

On PostgreSQL a list of keys or rows goes as one array per column: the statement keeps two
(or a dozen) parameters whatever the batch size, so the driver parses it once and caches it,
instead of parsing a statement with hundreds of placeholders each time (psycopg caches only
statements of at most 50 parameters). SQLite has no arrays and no such cost: plain IN lists
and multi-row inserts there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Table,
    bindparam,
    func,
    insert,
    select,
    tuple_,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY


def _array(name: str, column: Column[Any], values: list[Any]) -> ColumnElement[Any]:
    kind = ARRAY(column.type)
    return sql_cast(bindparam(name, values, type_=kind), kind)


def pairs_in(
    connection: Connection,
    first: Column[Any],
    second: Column[Any],
    pairs: Sequence[tuple[Any, Any]],
) -> ColumnElement[bool]:
    """``(first, second) IN pairs``."""
    if connection.dialect.name != "postgresql":
        return tuple_(first, second).in_(list(pairs))
    unnested = (
        func.unnest(
            _array("pairs_first", first, [pair[0] for pair in pairs]),
            _array("pairs_second", second, [pair[1] for pair in pairs]),
        )
        .table_valued("first", "second")
        .render_derived()
    )
    return tuple_(first, second).in_(select(unnested.c.first, unnested.c.second))


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Rows that all name the same columns, in one statement."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    arrays = [
        _array(f"rows_{index}", table.c[name], [row[name] for row in rows])
        for index, name in enumerate(names)
    ]
    unnested = func.unnest(*arrays).table_valued(*names).render_derived()
    connection.execute(
        insert(table).from_select(names, select(*(unnested.c[name] for name in names)))
    )
