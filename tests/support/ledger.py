"""Looking at the ledger straight in the store: what a refused command must leave unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from patron.core.db import Database
from patron.core.events import outbox_events
from patron.core.idempotency import idempotency_keys
from patron.wallets.tables import credit_entries, wallets


@dataclass(frozen=True)
class LedgerState:
    """Every wallet row of an account and how many entries, keys and outbox events it has."""

    wallets: tuple[tuple[Any, ...], ...]
    entries: int
    idempotency_keys: int
    outbox_events: int


def ledger_state(db: Database, account_id: str) -> LedgerState:
    def count(table: Any) -> int:
        return int(
            connection.execute(
                select(func.count()).select_from(table).where(table.c.account_id == account_id)
            ).scalar_one()
        )

    with db.read() as connection:
        rows = connection.execute(
            select(wallets).where(wallets.c.account_id == account_id).order_by(wallets.c.uuid)
        )
        return LedgerState(
            wallets=tuple(tuple(row) for row in rows),
            entries=count(credit_entries),
            idempotency_keys=count(idempotency_keys),
            outbox_events=count(outbox_events),
        )


def entry_rows(db: Database, account_id: str, wallet_uuid: str | None = None) -> list[Any]:
    """The entries of an account (or one wallet) as stored, in ledger order."""
    query = select(credit_entries).where(credit_entries.c.account_id == account_id)
    if wallet_uuid is not None:
        query = query.where(credit_entries.c.wallet_uuid == wallet_uuid)
    with db.read() as connection:
        return list(
            connection.execute(query.order_by(credit_entries.c.wallet_uuid, credit_entries.c.seq))
        )
