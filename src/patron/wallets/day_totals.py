"""Each day's ledger totals, kept beside the entries: per account, UTC day, credit type, action
and reason, the sum of the amounts and the number of entries.

Every statement that writes entries adds them here in the same transaction (one upsert per
posting; one per batch, summed, for bulk writes), so the totals never drift from a GROUP BY
over ``credit_entries`` and the console's overview reads a few rows a day rather than every
entry. ``patron ledger verify`` checks that they agree.

On PostgreSQL the upsert locks its row until the transaction ends. So that concurrent
transactions of one account do not all queue on that row, each writes to one of ``BUCKETS``
rows chosen by its transaction id (consecutive transactions, the ones running together, land
on different rows); readers sum the buckets. SQLite has one writer at a time: bucket 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import BigInteger, Connection, Date, String, bindparam, func, literal
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from patron.core.clock import as_utc
from patron.core.db import Precompiled
from patron.wallets.models import CreditEntry
from patron.wallets.tables import credit_day_totals

BUCKETS = 16
KEY = ("account_id", "day", "credit_type", "action", "reason", "bucket")
COLUMNS = [*KEY, "total", "entries"]
DayKey = tuple[date, str, str, str]  # day, credit type, action, reason


def day_of(created_at: datetime) -> date:
    """The UTC day an entry counts on."""
    return as_utc(created_at).date()


def bucket(dialect: str) -> Any:
    """The row of a day's totals this transaction writes (see the module's text)."""
    if dialect == "postgresql":
        return (func.txid_current() % BUCKETS).cast(credit_day_totals.c.bucket.type)
    return literal(0, credit_day_totals.c.bucket.type)


def _on_conflict(statement: Any) -> Any:
    table = credit_day_totals
    return statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={
            "total": table.c.total + statement.excluded.total,
            "entries": table.c.entries + statement.excluded.entries,
        },
    )


def upsert_from(source: Any) -> Any:
    """PostgreSQL: the rows of ``source`` (the table's columns, key first) added to the
    totals already there; for a statement that writes entries to count them itself."""
    return _on_conflict(postgresql_insert(credit_day_totals).from_select(COLUMNS, source))


@cache
def _add_statement(dialect: str) -> Any:
    insert = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(credit_day_totals)
    return _on_conflict(
        insert.values(
            account_id=bindparam("d_account", type_=String),
            day=bindparam("d_day", type_=Date),
            credit_type=bindparam("d_credit_type", type_=String),
            action=bindparam("d_action", type_=String),
            reason=bindparam("d_reason", type_=String),
            bucket=bucket(dialect),
            total=bindparam("d_total", type_=BigInteger),
            entries=bindparam("d_entries", type_=BigInteger),
        )
    )


@cache
def _add_one(dialect: str) -> Precompiled:
    return Precompiled(_add_statement(dialect))


def sum_by_day(entries: Iterable[CreditEntry]) -> dict[DayKey, tuple[int, int]]:
    """(total, count) of ``entries`` per day, credit type, action and reason."""
    sums: dict[DayKey, tuple[int, int]] = {}
    for entry in entries:
        key = (
            day_of(entry.created_at),
            entry.credit_type.value,
            entry.action.value,
            entry.reason.value,
        )
        total, count = sums.get(key, (0, 0))
        sums[key] = (total + entry.amount, count + 1)
    return sums


def add(connection: Connection, account_id: str, entries: Sequence[CreditEntry]) -> None:
    """Count ``entries``, just written in the caller's transaction, into their days' totals:
    one statement, each day's key once, in key order (so that two bulk writers take the rows'
    locks in the same order)."""
    _add_sums(connection, account_id, sum_by_day(entries))


def add_rows(
    connection: Connection,
    account_id: str,
    rows: Sequence[Sequence[Any]],
    fields: tuple[int, int, int, int, int],
) -> None:
    """``add`` of entries given as rows: ``fields`` says where each row has its
    ``created_at``, credit type, action and reason (as text), and amount."""
    at, kind, action, reason, amount = fields
    sums: dict[DayKey, tuple[int, int]] = {}
    days: dict[datetime, date] = {}  # a batch's entries share a time or a few
    for row in rows:
        created = row[at]
        day = days.get(created)
        if day is None:
            day = days[created] = day_of(created)
        key = (day, row[kind], row[action], row[reason])
        total, count = sums.get(key, (0, 0))
        sums[key] = (total + row[amount], count + 1)
    _add_sums(connection, account_id, sums)


def _add_sums(connection: Connection, account_id: str, sums: dict[DayKey, tuple[int, int]]) -> None:
    if not sums:
        return
    rows = [
        {
            "d_account": account_id,
            "d_day": day,
            "d_credit_type": credit_type,
            "d_action": action,
            "d_reason": reason,
            "d_total": total,
            "d_entries": count,
        }
        for (day, credit_type, action, reason), (total, count) in sorted(sums.items())
    ]
    if len(rows) == 1:
        _add_one(connection.dialect.name).execute(connection, rows[0])
    else:
        connection.execute(_add_statement(connection.dialect.name), rows)
