"""Request budgets shared by every process on one store: a counter per key and minute.

Each process takes its requests from the store in blocks (see ``patron.api.ratelimit``): one
atomic upsert hands out a block, never past the limit, so processes on several nodes together
admit at most the limit in a window, at the cost of one short write per block rather than per
request.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Connection, Integer, String, Table, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from patron.core.db import Database, metadata

rate_limit_windows = Table(
    "rate_limit_windows",
    metadata,
    Column("account_id", String(36), primary_key=True),
    # What is limited: a token's id, ``consumer:<uuid>`` or ``address:<ip>``.
    Column("key", String(100), primary_key=True),
    # The window: minutes since the epoch (wall clock, the same on every node).
    Column("minute", BigInteger, primary_key=True),
    Column("used", Integer, nullable=False),
)


def _insert_for(connection: Connection) -> Any:
    if connection.dialect.name == "sqlite":
        return sqlite_insert(rate_limit_windows)
    return postgresql_insert(rate_limit_windows)


def claim(db: Database, account_id: str, key: str, window: int, block: int, limit: int) -> int:
    """Requests granted to this process out of ``key``'s budget of ``limit`` in ``window``:
    ``block``, fewer when the budget is nearly spent, 0 when it is. One statement: concurrent
    claims from any number of processes never hand out more than ``limit`` together."""
    table = rate_limit_windows
    with db.write() as connection:
        insert = _insert_for(connection).values(
            account_id=account_id, key=key[:100], minute=window, used=block
        )
        upsert = insert.on_conflict_do_update(
            index_elements=[table.c.account_id, table.c.key, table.c.minute],
            set_={"used": table.c.used + block},
            where=table.c.used < limit,
        ).returning(table.c.used)
        row = connection.execute(upsert).first()
    if row is None:  # the budget was spent before this claim
        return 0
    before = int(row[0]) - block
    return max(0, min(block, limit - before))


def forget_before(db: Database, window: int) -> None:
    """Drop the counters of windows before ``window`` (they can admit nothing any more)."""
    with db.write() as connection:
        connection.execute(delete(rate_limit_windows).where(rate_limit_windows.c.minute < window))
