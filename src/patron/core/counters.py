"""Per-account integer ids (orders, stores, promotions, ...): small, stable, never shared."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Connection, String, Table, bindparam, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from patron.core import numbering
from patron.core.db import Precompiled, metadata

account_counters = Table(
    "account_counters",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("name", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)


def next_value(connection: Connection, account_id: str, name: str) -> int:
    """The next number of ``name`` in this account (see patron.core.numbering)."""

    def reserve(reserving: Connection, count: int) -> int:
        parameters = {"account": account_id, "counter": name, "count": count}
        row = _BUMP.execute(reserving, parameters).first()
        if row is None:
            first = _insert_for(reserving).values(account_id=account_id, name=name, value=0)
            reserving.execute(first.on_conflict_do_nothing())
            row = _BUMP.execute(reserving, parameters).first()
            assert row is not None
        return int(row[0])

    return numbering.blocks.next(connection, account_id, name, reserve)


# Every order's number on SQLite (on PostgreSQL every block's): built and compiled once.
_BUMP = Precompiled(
    update(account_counters)
    .where(
        account_counters.c.account_id == bindparam("account", type_=String),
        account_counters.c.name == bindparam("counter", type_=String),
    )
    .values(value=account_counters.c.value + bindparam("count", type_=BigInteger))
    .returning(account_counters.c.value)
)


def _insert_for(connection: Connection) -> Any:
    if connection.dialect.name == "sqlite":
        return sqlite_insert(account_counters)
    return postgresql_insert(account_counters)
