"""Statements over many keys or rows whose text does not grow with how many there are.

On PostgreSQL a list of keys or rows goes as one array per column: the statement keeps two
(or a dozen) parameters whatever the batch size, so the driver parses it once and caches it,
instead of parsing a statement with hundreds of placeholders each time (psycopg caches only
statements of at most 50 parameters). SQLite has no arrays: a list of keys goes there as
one JSON array (``json_each``), and rows as multi-row inserts.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Collection, Iterable, Sequence
from itertools import chain, repeat
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Integer,
    Select,
    SmallInteger,
    String,
    Table,
    bindparam,
    func,
    literal,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeEngine

from patron.core.db import Precompiled, flush_savepoint, inserting


def _array(name: str, column: Column[Any], values: list[Any]) -> ColumnElement[Any]:
    kind = ARRAY(column.type)
    return sql_cast(bindparam(name, values, type_=kind), kind)


def array(name: str, column: Column[Any], values: list[Any]) -> ColumnElement[Any]:
    """One PostgreSQL array parameter of ``column``'s type (for ``unnest`` of many rows)."""
    return _array(name, column, values)


def values_in(
    connection: Connection, column: Column[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """``column IN values`` (text or numbers), one parameter however many values: on
    PostgreSQL ``= ANY`` of an array; on SQLite ``IN`` the rows of ``json_each`` over a JSON
    array, still searched through the column's index. A plain IN list names a parameter a
    value, which SQLAlchemy builds and renders again at each call: for a batch's thousand
    keys, that cost the writing import more than SQLite's lookups."""
    if connection.dialect.name != "postgresql":
        return _in_json_array(
            column, bindparam(f"{column.name}_values", list(values), type_=JSON, unique=True)
        )
    return column == func.any(_array(f"{column.name}_values", column, list(values)))


def _in_json_array(column: Column[Any], array: ColumnElement[Any]) -> ColumnElement[bool]:
    """SQLite: ``column IN`` the rows of ``json_each`` over one JSON array parameter."""
    keys: Select[Any] = select(literal_column("value")).select_from(func.json_each(array))
    return column.in_(keys)


def any_of(dialect: str, column: Column[Any], name: str) -> ColumnElement[bool]:
    """``column IN :name`` for a statement built once and run with a list bound to ``name``:
    on PostgreSQL ``= ANY`` of one array parameter; on SQLite ``IN`` the rows of
    ``json_each`` over one JSON array. Either way the statement's text is the same for any
    number of keys, so it is compiled once (an expanding IN is rewritten for each list,
    which cost more than running it) and still searched through the column's index."""
    if dialect != "postgresql":
        return _in_json_array(column, bindparam(name, type_=JSON))
    kind = ARRAY(column.type)
    return column == func.any(sql_cast(bindparam(name, type_=kind), kind))


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


Updates = Callable[[Any], dict[str, Any]]


def insert_rows(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    on_conflict: tuple[Sequence[str], Updates] | None = None,
) -> None:
    """Rows that all name the same columns, in one statement.

    ``on_conflict``: the unique columns, and what a row already there becomes, given the
    proposed row (``excluded``): an upsert, on both stores.
    On PostgreSQL a column with one value in every row (the batch's time, its account) goes as
    that one value rather than an array of copies: arrays cost the driver time per element.
    """
    if not rows:
        return
    names = list(rows[0])
    if connection.dialect.name != "postgresql":
        statement: Any = sqlite_insert(table)
        if on_conflict is not None:
            statement = statement.on_conflict_do_update(
                index_elements=list(on_conflict[0]), set_=on_conflict[1](statement.excluded)
            )
        connection.execute(statement, list(rows))
        return
    columns: dict[str, list[Any]] = {name: [row[name] for row in rows] for name in names}
    varying = [name for name in names if any(v != columns[name][0] for v in columns[name])]
    varying = varying or names[:1]
    arrays = [
        _array(f"rows_{index}", table.c[name], columns[name]) for index, name in enumerate(varying)
    ]
    unnested = func.unnest(*arrays).table_valued(*varying).render_derived()
    chosen = [
        unnested.c[name]
        if name in varying
        else literal(columns[name][0], table.c[name].type).label(name)
        for name in names
    ]
    upsert = postgresql_insert(table).from_select(names, select(*chosen))
    if on_conflict is not None:
        upsert = upsert.on_conflict_do_update(
            index_elements=list(on_conflict[0]), set_=on_conflict[1](upsert.excluded)
        )
    connection.execute(upsert)


def insert_many(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Many rows naming the same columns, for bulk jobs (an import): ``insert_tuples`` of
    their values."""
    if not rows:
        return
    names = list(rows[0])
    insert_tuples(connection, table, names, [tuple(row[name] for name in names) for row in rows])


def insert_tuples(
    connection: Connection,
    table: Table,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    json_text: Collection[str] = (),
) -> None:
    """Many rows, each the values of ``names`` in that order, for bulk jobs (an import).

    On PostgreSQL they go by ``COPY`` (JSON columns as their JSON text, as ``insert()`` writes
    them), in the caller's transaction. On SQLite the values go through each column type's own
    bind processor, a column at a time (once for a value every row shares, as a batch's time),
    and then to the driver as INSERT statements of many rows each: the same stored values as
    ``insert()``, without building a parameter set per row.

    ``json_text`` names JSON columns whose values are given as their JSON text already (as
    ``json.dumps`` writes it, which ``insert()`` uses): they are written as they are."""
    if not rows:
        return
    columns = ", ".join(f'"{name}"' for name in names)
    if connection.dialect.name == "postgresql":
        _copy(connection, table, names, columns, rows, json_text)
        return
    dialect = connection.dialect
    # The dialect's own processors, as ``insert()`` runs them (SQLite's DATETIME writes its
    # text form; the generic type would leave the value to the driver's adapter).
    processors = [
        None
        if name in json_text
        else table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in names
    ]
    cells: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for index, processor in enumerate(processors):
        if processor is not None:
            cells[index] = _processed(cells[index], processor)
    shape, shared, varying = statement_shape(cells)
    _insert_values(connection, table.name, columns, shape, shared, varying, len(rows))


def statement_shape(
    cells: Iterable[Sequence[Any]], shares: Callable[[Sequence[Any], Any], bool] | None = None
) -> tuple[tuple[int | None, ...], list[Any], list[Sequence[Any]]]:
    """How SQLite's INSERT statements of many rows (``values_statement``) name each column's
    values, from the columns' values (``cells``): a value every row shares (the account, the
    batch's time) is bound once a statement, as a numbered parameter every row names; a NULL
    every row has is written as NULL; the rest vary by row. The statements' text depends on
    this shape only, so the driver prepares each once. ``shares(column, first)``: whether
    every value of ``column`` is ``first`` (default: the same object, as a batch's rows hold
    one). The shape (per column: None for NULL, the nth shared value > 0, a varying one
    <= 0), the shared values and the varying columns."""
    every_row_holds = shares or _all_is
    shared: list[Any] = []
    varying: list[Sequence[Any]] = []
    shape: list[int | None] = []
    for column in cells:
        first = column[0]
        if not every_row_holds(column, first):
            varying.append(column)
            shape.append(1 - len(varying))
        elif first is None:
            shape.append(None)
        else:
            shared.append(first)
            shape.append(len(shared))
    return tuple(shape), shared, varying


# SQLite: rows per INSERT statement, and parameters per statement (999: what every SQLite
# build takes, the oldest default of SQLITE_MAX_VARIABLE_NUMBER).
_ROWS_PER_STATEMENT = 500
_PARAMETERS_PER_STATEMENT = 999


def _insert_values(
    connection: Connection,
    name: str,
    columns: str,
    shape: tuple[int | None, ...],
    shared: Sequence[Any],
    varying: Sequence[Sequence[Any]],
    count: int,
) -> None:
    """SQLite: COUNT rows of SHAPE (``statement_shape``), as INSERT statements of many rows
    each: the driver sends a statement's rows with one step instead of one each (a fifth less
    time than ``executemany`` of one row a statement, measured on an import's rows)."""
    width = len(varying)
    room = _PARAMETERS_PER_STATEMENT - len(shared)
    per = max(1, min(_ROWS_PER_STATEMENT, room // width if width else count))
    flat = tuple(chain.from_iterable(zip(*varying, strict=True))) if width else ()
    head = tuple(shared)
    full = count - count % per
    if full:
        size = per * width
        statement = values_statement(name, columns, shape, len(shared), width, per)
        groups = (
            [head + flat[start : start + size] for start in range(0, full * width, size)]
            if width
            else [head] * (full // per)
        )
        connection.exec_driver_sql(statement, groups)
    # The rest in statements of 2^k rows: a handful of statements in all, each prepared once.
    done, rest = full, count - full
    while rest:
        rows = 1 << (rest.bit_length() - 1)
        statement = values_statement(name, columns, shape, len(shared), width, rows)
        connection.exec_driver_sql(statement, head + flat[done * width : (done + rows) * width])
        done, rest = done + rows, rest - rows


@functools.lru_cache(maxsize=256)
def values_statement(
    name: str, columns: str, shape: tuple[int | None, ...], shared: int, width: int, rows: int
) -> str:
    """``INSERT INTO name (columns) VALUES (...), ...`` of ROWS rows of SHAPE: the shared
    values are parameters 1 to SHARED, row r's varying ones follow, WIDTH a row."""
    values = []
    for row in range(rows):
        first = shared + row * width + 1
        marks = [
            "NULL" if mark is None else f"?{mark}" if mark > 0 else f"?{first - mark}"
            for mark in shape
        ]
        values.append(f"({', '.join(marks)})")
    return f'INSERT INTO "{name}" ({columns}) VALUES {", ".join(values)}'  # noqa: S608 - names from the Table


def _processed(column: Sequence[Any], processor: Callable[[Any], Any]) -> Sequence[Any]:
    """A column's values through its processor: once for a value every row shares (a
    batch's time, a flag)."""
    first = column[0]
    if _all_is(column, first):
        return (processor(first),) * len(column)
    return [processor(value) for value in column]


def _copy(
    connection: Connection,
    table: Table,
    names: Sequence[str],
    columns: str,
    rows: Sequence[Sequence[Any]],
    json_text: Collection[str],
) -> None:
    encoded = [
        index
        for index, name in enumerate(names)
        if isinstance(table.c[name].type, JSON) and name not in json_text
    ]
    if encoded:
        cells: list[Sequence[Any]] = list(zip(*rows, strict=True))
        for index in encoded:
            # Once for a value every row shares (a new contact's empty list of services).
            cells[index] = _processed(cells[index], json.dumps)
        rows = list(zip(*cells, strict=True))
    flush_savepoint(connection)  # the driver's COPY goes around SQLAlchemy
    driver: Any = connection.connection.driver_connection
    types = _wire_types(table, tuple(names))
    if types is not None and any(
        _naive(rows, index) for index, wire in enumerate(types) if wire == "timestamptz"
    ):
        types = None  # a time without its zone is read in the session's, as an INSERT reads it
    copying = f'COPY "{table.name}" ({columns}) FROM STDIN'
    if types is not None:
        copying += " (FORMAT BINARY)"
    import psycopg

    try:
        with driver.cursor() as cursor, cursor.copy(copying) as copy:
            if types is not None:
                copy.set_types(types)
            write = copy.write_row
            for row in rows:
                write(row)
    except psycopg.IntegrityError as error:
        # As SQLAlchemy raises it, so that a unique-key race is retried like any other.
        raise IntegrityError(copying, None, error) from None


# Column types (the most specific first) and their PostgreSQL names for a binary COPY. JSON
# goes as its text, which is the json type's binary form.
_WIRE_TYPES: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (JSON, "text"),
    (String, "text"),
    (BigInteger, "int8"),
    (SmallInteger, "int2"),
    (Integer, "int4"),
    (Boolean, "bool"),
    (DateTime, "timestamptz"),
    (Date, "date"),
)


@functools.lru_cache(maxsize=64)
def _wire_types(table: Table, names: tuple[str, ...]) -> list[str] | None:
    """The types a binary ``COPY`` of ``names`` declares, or None (a text ``COPY``) if a
    column's type is not one of ``_WIRE_TYPES``, or is a time column without its zone.

    In binary each value goes in its type's own form, which PostgreSQL takes as it is: from
    text it parsed every number, date and time of every row (the driver, for its part,
    wrote each of them out as text). The values must be of their column's Python type: a
    bulk job's rows are built by Patron, never taken as given."""
    found: list[str] = []
    for name in names:
        kind = table.c[name].type
        wire = next((wire for cls, wire in _WIRE_TYPES if isinstance(kind, cls)), None)
        if wire is None or (isinstance(kind, DateTime) and not kind.timezone):
            return None
        found.append(wire)
    return found


def _all_is(values: Iterable[Any], first: Any) -> bool:
    """Whether every one of ``values`` is the object ``first``: a value every row shares (a
    batch's time, a flag), which is processed or bound once.

    A text or None is bound as its value: for them an equal value is as good as the same
    object, and a list's ``count`` finds them equal in C (identical ones at a pointer's
    comparison each) rather than through a call to ``operator.is_`` for each (a twentieth
    of what an import's writing process executed went to those calls)."""
    if (first is None or type(first) is str) and isinstance(values, list | tuple):
        return values[-1] == first and values.count(first) == len(values)
    return all(map(operator.is_, values, repeat(first)))


def _naive(rows: Sequence[Sequence[Any]], index: int) -> bool:
    """Whether a time in column ``index`` has no zone (once for a time every row shares)."""
    first = rows[0][index]
    if _all_is(map(operator.itemgetter(index), rows), first):
        return first is not None and first.tzinfo is None
    return any(row[index] is not None and row[index].tzinfo is None for row in rows)


def analyze(connection: Connection, *tables: Table) -> None:
    """Refresh PostgreSQL's statistics of tables a bulk job is filling (nothing on SQLite):
    until autovacuum gets to them the planner takes a fresh table for a tiny one, and reads a
    batch's keys through a filter rather than the index."""
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        connection.exec_driver_sql(f'ANALYZE "{table.name}"')


# One row for one table: what ``insert_together`` writes.
RowInsert = tuple[Table, dict[str, Any]]

_together_cache: dict[tuple[Any, ...], Any] = {}
_single_inserts: dict[tuple[str, tuple[str, ...]], Precompiled] = {}


def insert_together(connection: Connection, rows: Sequence[RowInsert]) -> None:
    """Single-row INSERTs into several tables (a new contact: its row, its ids, its wallet,
    its event), in the order given.

    On PostgreSQL they go as one statement, each but the last a data-modifying CTE: one round
    trip instead of one per row (constraints, foreign keys included, are checked at the end of
    the statement, as at the end of each of the separate ones). The statement is built once
    per shape (the tables and the columns given). On SQLite, where a statement costs no round
    trip, one plain INSERT each."""
    if not rows:
        return
    if connection.dialect.name != "postgresql" or len(rows) == 1:
        for table, values in rows:
            single = (table.name, tuple(values))
            statement = _single_inserts.get(single)
            if statement is None:
                if len(_single_inserts) > 256:
                    _single_inserts.clear()
                statement = _single_inserts[single] = inserting(table, single[1])
            statement.execute(connection, values)
        return
    shape = tuple((table.name, tuple(values)) for table, values in rows)
    statement = _together_cache.get(shape)
    if statement is None:
        parts = [
            table.insert().values({name: bindparam(f"r{index}_{name}") for name in values})
            for index, (table, values) in enumerate(rows)
        ]
        ctes = [part.cte(f"written_{index}") for index, part in enumerate(parts[:-1])]
        statement = Precompiled(parts[-1].add_cte(*ctes))
        if len(_together_cache) > 256:
            _together_cache.clear()
        _together_cache[shape] = statement
    parameters = {
        f"r{index}_{name}": value
        for index, (_, values) in enumerate(rows)
        for name, value in values.items()
    }
    statement.execute(connection, parameters)
