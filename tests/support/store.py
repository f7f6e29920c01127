"""Reading the store directly: what an account holds, to prove a refused write changed nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select

from patron.core.db import Database
from patron.core.events import audit_events, outbox_events
from patron.core.idempotency import idempotency_keys
from patron.customers.tables import customers, identities
from patron.wallets.tables import credit_entries, wallets

ACCOUNT_TABLES: tuple[Table, ...] = (
    customers,
    identities,
    wallets,
    credit_entries,
    outbox_events,
    audit_events,
    idempotency_keys,
)


def account_rows(db: Database, account_uuid: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the account owns, table by table, in a stable order."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with db.read() as connection:
        for table in ACCOUNT_TABLES:
            rows = connection.execute(select(table).where(table.c.account_id == account_uuid))
            found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found


def row_counts(db: Database, account_uuid: str) -> dict[str, int]:
    return {name: len(rows) for name, rows in account_rows(db, account_uuid).items()}


def outbox(db: Database, account_uuid: str) -> list[tuple[str, dict[str, Any]]]:
    """The account's outbox events, oldest first: (type, payload)."""
    with db.read() as connection:
        rows = connection.execute(
            select(outbox_events.c.event_type, outbox_events.c.payload, outbox_events.c.status)
            .where(outbox_events.c.account_id == account_uuid)
            .order_by(outbox_events.c.created_at)
        ).all()
    assert {row.status for row in rows} <= {"pending"}
    return [(row.event_type, dict(row.payload)) for row in rows]


def audit(db: Database, account_uuid: str) -> list[dict[str, Any]]:
    with db.read() as connection:
        rows = connection.execute(
            select(audit_events)
            .where(audit_events.c.account_id == account_uuid)
            .order_by(audit_events.c.created_at)
        ).all()
    return [dict(row._mapping) for row in rows]
