"""Reads and writes of the store-credit mirror's journal (see ``tables``), each one short
transaction, none of them open while Shopify is being called."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, update

from patron.core.clock import as_utc
from patron.core.db import Database
from patron.integrations.shopify.tables import DONE, FAILED, SENDING, shopify_credit_mirrors
from patron.wallets import service as wallets


@dataclass(frozen=True, slots=True)
class Mirror:
    """One ledger entry on its way to (or in) Shopify's store credit."""

    account_id: str
    entry_uuid: str
    wallet_uuid: str
    customer_gid: str
    direction: str  # credit | debit
    amount: int  # minor units, positive
    currency: str


@dataclass(frozen=True, slots=True)
class Recorded:
    status: str
    sent_at: datetime
    transaction_id: str | None


def _key(account_id: str, entry_uuid: str) -> Any:
    return and_(
        shopify_credit_mirrors.c.account_id == account_id,
        shopify_credit_mirrors.c.entry_uuid == entry_uuid,
    )


def open_mirror(db: Database, mirror: Mirror, now: datetime) -> Recorded | None:
    """Record that ``mirror`` is about to be sent; None when it is new.

    An entry seen before is left as it was and its record returned, for the caller to decide
    (done: nothing to do; failed: send again; sending: in doubt, reconcile first).
    """
    with db.write() as connection:
        row = connection.execute(
            select(
                shopify_credit_mirrors.c.status,
                shopify_credit_mirrors.c.sent_at,
                shopify_credit_mirrors.c.transaction_id,
            ).where(_key(mirror.account_id, mirror.entry_uuid))
        ).first()
        if row is not None:
            return Recorded(row.status, as_utc(row.sent_at), row.transaction_id)
        connection.execute(
            insert(shopify_credit_mirrors).values(
                account_id=mirror.account_id,
                entry_uuid=mirror.entry_uuid,
                wallet_uuid=mirror.wallet_uuid,
                customer_gid=mirror.customer_gid,
                direction=mirror.direction,
                amount=mirror.amount,
                currency=mirror.currency,
                status=SENDING,
                sent_at=now,
                updated_at=now,
            )
        )
    return None


def resend(db: Database, mirror: Mirror, now: datetime) -> None:
    """About to send again: the record is ``sending`` as of now."""
    with db.write() as connection:
        connection.execute(
            update(shopify_credit_mirrors)
            .where(_key(mirror.account_id, mirror.entry_uuid))
            .values(status=SENDING, sent_at=now, updated_at=now, last_error=None)
        )


def failed(db: Database, mirror: Mirror, error: str, now: datetime) -> None:
    """Shopify did not apply it (a refusal, or a failure before it was sent)."""
    with db.write() as connection:
        connection.execute(
            update(shopify_credit_mirrors)
            .where(_key(mirror.account_id, mirror.entry_uuid))
            .values(status=FAILED, last_error=error[:500], updated_at=now)
        )


def done(
    db: Database,
    mirror: Mirror,
    transaction_id: str,
    balance_after: int | None,
    now: datetime,
) -> None:
    """Shopify applied it: the transaction id, and the wallet's Shopify balance after it."""
    with db.write() as connection:
        connection.execute(
            update(shopify_credit_mirrors)
            .where(_key(mirror.account_id, mirror.entry_uuid))
            .values(
                status=DONE,
                transaction_id=transaction_id,
                balance_after=balance_after,
                last_error=None,
                updated_at=now,
            )
        )
        if balance_after is not None:
            wallets.record_shopify_balance(
                connection, mirror.account_id, mirror.wallet_uuid, balance_after, now
            )


def known_transactions(db: Database, account_id: str, ids: Collection[str]) -> set[str]:
    """Which of these Shopify transaction ids the journal already holds."""
    if not ids:
        return set()
    with db.read() as connection:
        rows = connection.execute(
            select(shopify_credit_mirrors.c.transaction_id).where(
                shopify_credit_mirrors.c.account_id == account_id,
                shopify_credit_mirrors.c.transaction_id.in_(list(ids)),
            )
        )
        return {str(row.transaction_id) for row in rows}


def status_of(db: Database, account_id: str, entry_uuid: str) -> str | None:
    with db.read() as connection:
        value = connection.execute(
            select(shopify_credit_mirrors.c.status).where(_key(account_id, entry_uuid))
        ).scalar_one_or_none()
    return str(value) if value is not None else None


__all__ = ["DONE", "FAILED", "SENDING", "Mirror", "Recorded"]
