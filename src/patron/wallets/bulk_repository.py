"""SQL of bulk jobs (an import): many wallets, their figures and their entries at once.

Every write of many entries goes through ``insert_entries``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from patron.core.bulk import array, insert_tuples, values_in
from patron.wallets import day_totals
from patron.wallets.models import CreditEntry
from patron.wallets.tables import credit_entries, wallets


def lock_wallets(connection: Connection, account_id: str, wallet_uuids: Sequence[str]) -> list[Any]:
    """The wallets' balances and counters, their rows locked until the transaction ends
    (PostgreSQL; SQLite writers are serial)."""
    query = select(
        wallets.c.uuid,
        wallets.c.global_balance,
        wallets.c.local_balance,
        wallets.c.entry_count,
    ).where(wallets.c.account_id == account_id, values_in(connection, wallets.c.uuid, wallet_uuids))
    if connection.dialect.name != "sqlite":
        query = query.order_by(wallets.c.uuid).with_for_update()
    return list(connection.execute(query).all())


def keyed_entries(
    connection: Connection, account_id: str, wallet_uuids: Sequence[str], keys: Sequence[str]
) -> dict[tuple[str, str], tuple[str, int]]:
    """(credit type, amount) of the entries of these wallets that hold one of these
    idempotency keys, by (wallet, key): each wallet's entries are found by its index."""
    if not wallet_uuids or not keys:
        return {}
    rows = connection.execute(
        select(
            credit_entries.c.wallet_uuid,
            credit_entries.c.idempotency_key,
            credit_entries.c.credit_type,
            credit_entries.c.amount,
        ).where(
            credit_entries.c.account_id == account_id,
            values_in(connection, credit_entries.c.wallet_uuid, wallet_uuids),
            values_in(connection, credit_entries.c.idempotency_key, keys),
        )
    )
    return {
        (row.wallet_uuid, row.idempotency_key): (str(row.credit_type), int(row.amount))
        for row in rows
    }


def set_wallet_figures(
    connection: Connection, account_id: str, figures: Sequence[dict[str, Any]], now: datetime
) -> None:
    """Write each wallet's new ``global_balance``, ``local_balance`` and ``entry_count`` (the
    caller holds the rows' locks and computed them from what ``lock_wallets`` read)."""
    if not figures:
        return
    if connection.dialect.name == "sqlite":
        # The driver's executemany with one tuple a wallet: the time as the column's own
        # processor writes it, once.
        moment = wallets.c.updated_at.type.dialect_impl(connection.dialect).bind_processor(
            connection.dialect
        )
        stamp = moment(now) if moment is not None else now
        connection.exec_driver_sql(
            "UPDATE wallets SET global_balance = ?, local_balance = ?, entry_count = ?, "
            "updated_at = ? WHERE account_id = ? AND uuid = ?",
            [
                (
                    row["global_balance"],
                    row["local_balance"],
                    row["entry_count"],
                    stamp,
                    account_id,
                    row["uuid"],
                )
                for row in figures
            ],
        )
        return
    given = (
        func.unnest(
            array("w_uuid", wallets.c.uuid, [row["uuid"] for row in figures]),
            array("w_global", wallets.c.global_balance, [row["global_balance"] for row in figures]),
            array("w_local", wallets.c.local_balance, [row["local_balance"] for row in figures]),
            array("w_count", wallets.c.entry_count, [row["entry_count"] for row in figures]),
        )
        .table_valued("uuid", "global_balance", "local_balance", "entry_count")
        .render_derived()
    )
    connection.execute(
        update(wallets)
        .where(wallets.c.account_id == account_id, wallets.c.uuid == given.c.uuid)
        .values(
            global_balance=given.c.global_balance,
            local_balance=given.c.local_balance,
            entry_count=given.c.entry_count,
            updated_at=now,
        )
    )


_WALLET_COLUMNS = (
    "account_id",
    "uuid",
    "customer_uuid",
    "global_balance",
    "local_balance",
    "global_held",
    "local_held",
    "entry_count",
    "open_lots",
    "created_at",
    "updated_at",
)


def insert_wallets(
    connection: Connection,
    account_id: str,
    rows: Sequence[tuple[str, str, int, int, int]],
    now: datetime,
) -> None:
    """Wallets of customers just created: (wallet uuid, customer uuid, global balance, local
    balance, entry count) each, nothing held, no lots."""
    insert_tuples(
        connection,
        wallets,
        _WALLET_COLUMNS,
        [
            (account_id, wallet_uuid, customer_uuid, global_, local, 0, 0, count, 0, now, now)
            for wallet_uuid, customer_uuid, global_, local, count in rows
        ],
    )


def insert_entries(connection: Connection, account_id: str, entries: Sequence[CreditEntry]) -> None:
    """Many entries at once (a bulk job's postings): every bulk write of entries goes here
    (or, as their rows, to ``insert_entry_rows``), counted into their days' totals in one
    more statement."""
    insert_entry_rows(
        connection,
        account_id,
        [
            (
                account_id,
                entry.uuid,
                entry.wallet_uuid,
                entry.seq,
                entry.action.value,
                entry.credit_type.value,
                entry.amount,
                entry.balance_after,
                entry.reason.value,
                entry.note,
                entry.idempotency_key,
                entry.conversion_uuid,
                entry.redemption_uuid,
                entry.order_uuid,
                entry.reverses_uuid,
                entry.expires_at,
                entry.created_at,
                entry.actor,
                entry.actor_name,
            )
            for entry in entries
        ],
    )


def insert_entry_rows(
    connection: Connection, account_id: str, rows: Sequence[tuple[Any, ...]]
) -> None:
    """``insert_entries`` of the entries' rows, each the values of ``ENTRY_ROW`` in order
    (the account's first, then each entry's field values as text: ``"ADD"``, ``"GLOBAL"``)."""
    insert_tuples(connection, credit_entries, ENTRY_ROW, rows)
    day_totals.add_rows(connection, account_id, rows, _DAY_FIELDS)


# The columns of an entry's row in the order ``insert_entries`` gives them (as
# ``repository.entry_values`` names them).
# An entry's fields as its row and an export name them, in this order.
ENTRY_FIELDS = (
    "uuid",
    "wallet_uuid",
    "seq",
    "action",
    "credit_type",
    "amount",
    "balance_after",
    "reason",
    "note",
    "idempotency_key",
    "conversion_uuid",
    "redemption_uuid",
    "order_uuid",
    "reverses_uuid",
    "expires_at",
    "created_at",
)
ENTRY_ROW = ("account_id", *ENTRY_FIELDS, "actor", "actor_name")
# Where a row has what its day's totals are keyed and summed by.
_DAY_FIELDS = (
    ENTRY_ROW.index("created_at"),
    ENTRY_ROW.index("credit_type"),
    ENTRY_ROW.index("action"),
    ENTRY_ROW.index("reason"),
    ENTRY_ROW.index("amount"),
)
