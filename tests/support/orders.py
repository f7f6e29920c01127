"""Typed builders for stores, orders and promotions, and a snapshot of what an account holds."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select

from patron.core.db import Database
from patron.core.events import outbox_events
from patron.core.idempotency import idempotency_keys
from patron.orders import service as orders
from patron.orders import stores
from patron.orders.models import Order, OrderCommand, Store, StoreCommand
from patron.orders.promotions import service as promotions
from patron.orders.promotions.models import Promotion, PromotionCommand
from patron.orders.promotions.tables import promotion_stores
from patron.orders.promotions.tables import promotions as promotions_table
from patron.orders.tables import order_refunds
from patron.orders.tables import orders as orders_table
from patron.orders.tables import stores as stores_table
from patron.wallets import repository as wallet_repository
from patron.wallets.tables import credit_entries, wallets
from tests.support.tenants import Tenant

TABLES: tuple[Table, ...] = (
    stores_table,
    orders_table,
    order_refunds,
    promotions_table,
    promotion_stores,
    wallets,
    credit_entries,
    outbox_events,
    idempotency_keys,
)
# account_counters is left out: numbers are reserved in blocks by their own transaction,
# so a refused create may leave a gap in the numbering, and that is by design.


def snapshot(db: Database, account_uuid: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the account in the tables orders and promotions touch, in a stable order."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with db.read() as connection:
        for table in TABLES:
            rows = connection.execute(
                select(table)
                .where(table.c.account_id == account_uuid)
                .order_by(*table.primary_key.columns)
            )
            found[table.name] = [tuple(row) for row in rows]
    return found


def make_store(
    db: Database,
    tenant: Tenant,
    *,
    name: str = "Main street",
    external_id: str | None = None,
    points_multiplier: str | None = None,
) -> Store:
    return stores.create_store(
        db,
        tenant.principal,
        StoreCommand(name=name, external_id=external_id, points_multiplier=points_multiplier),
    )


def record(
    db: Database,
    tenant: Tenant,
    total: str,
    *,
    customer: str | None = None,
    store: str | None = None,
    external_id: str | None = None,
    status: str = "COMPLETED",
    credit_used: str | None = None,
    completed_at: datetime | None = None,
    currency: str = "USD",
) -> Order:
    return orders.record_order(
        db,
        tenant.principal,
        OrderCommand(
            external_id=f"order-{secrets.token_hex(4)}" if external_id is None else external_id,
            total=total,
            currency=currency,
            customer_uuid=customer,
            store_uuid=store,
            status=status,
            credit_used=credit_used,
            completed_at=completed_at,
        ),
    )


def make_promotion(
    db: Database,
    tenant: Tenant,
    *,
    name: str = "Double points",
    reward: str = "POINTS_MULTIPLIER",
    reward_value: object = "2",
    **fields: Any,
) -> Promotion:
    return promotions.create_promotion(
        db,
        tenant.principal,
        PromotionCommand(name=name, reward=reward, reward_value=reward_value, **fields),
    )


def balances(db: Database, tenant: Tenant, customer_uuid: str) -> tuple[int, int]:
    """(GLOBAL, LOCAL) balances of a customer's wallet, in the smallest unit."""
    with db.read() as connection:
        wallet = wallet_repository.wallets_for_customers(connection, tenant.uuid, [customer_uuid])[
            customer_uuid
        ]
    return wallet.global_balance, wallet.local_balance


def order_entries(db: Database, tenant: Tenant, order_uuid: str) -> list[tuple[str, str, int, str]]:
    """(action, credit type, amount, reason) of the entries linked to an order, in order."""
    with db.read() as connection:
        rows = connection.execute(
            select(
                credit_entries.c.action,
                credit_entries.c.credit_type,
                credit_entries.c.amount,
                credit_entries.c.reason,
            )
            .where(
                credit_entries.c.account_id == tenant.uuid,
                credit_entries.c.order_uuid == order_uuid,
            )
            .order_by(credit_entries.c.seq)
        )
        return [(row.action, row.credit_type, row.amount, row.reason) for row in rows]
