"""Per-account integer ids (orders, stores, promotions, ...): small, stable, never shared."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Connection, String, Table, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from patron.core import numbering
from patron.core.db import metadata

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
        bump = (
            update(account_counters)
            .where(account_counters.c.account_id == account_id, account_counters.c.name == name)
            .values(value=account_counters.c.value + count)
            .returning(account_counters.c.value)
        )
        row = reserving.execute(bump).first()
        if row is None:
            first = _insert_for(reserving).values(account_id=account_id, name=name, value=0)
            reserving.execute(first.on_conflict_do_nothing())
            row = reserving.execute(bump).first()
            assert row is not None
        return int(row[0])

    return numbering.blocks.next(connection, account_id, name, reserve)


def _insert_for(connection: Connection) -> Any:
    if connection.dialect.name == "sqlite":
        return sqlite_insert(account_counters)
    return postgresql_insert(account_counters)
