"""Per-account integer ids (orders, stores, promotions, ...): small, stable, never shared."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Connection, String, Table, insert, select, update

from patron.core.db import metadata

account_counters = Table(
    "account_counters",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("name", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)


def next_value(connection: Connection, account_id: str, name: str) -> int:
    """The next number of ``name`` in this account, in the caller's transaction."""
    row = connection.execute(
        update(account_counters)
        .where(account_counters.c.account_id == account_id, account_counters.c.name == name)
        .values(value=account_counters.c.value + 1)
        .returning(account_counters.c.value)
    ).first()
    if row is not None:
        return int(row[0])
    connection.execute(insert(account_counters).values(account_id=account_id, name=name, value=1))
    return 1


def current_value(connection: Connection, account_id: str, name: str) -> int:
    value = connection.execute(
        select(account_counters.c.value).where(
            account_counters.c.account_id == account_id, account_counters.c.name == name
        )
    ).scalar_one_or_none()
    return int(value or 0)
