"""Wallet figures as correlated subqueries, for another domain to compose into one statement
of its own. Nothing here runs a statement, and each subquery is scoped by the account."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from patron.wallets.lot_tables import credit_lots
from patron.wallets.tables import wallets


def points_available(
    account_id: Any, customer_uuid: ColumnElement[Any], now: datetime | Any
) -> ColumnElement[Any]:
    """The LOCAL points the customer in ``customer_uuid`` (a column of the outer statement) may
    spend at ``now``: balance less held credit less credit in lots past expiry that no sweep
    has removed yet; 0 without a wallet. ``account_id`` and ``now``: values, or parameters of
    a statement built once."""
    expired = (
        select(func.coalesce(func.sum(credit_lots.c.remaining), 0))
        .where(
            credit_lots.c.account_id == account_id,
            credit_lots.c.wallet_uuid == wallets.c.uuid,
            credit_lots.c.credit_type == "LOCAL",
            credit_lots.c.expires_at <= now,
        )
        .scalar_subquery()
    )
    points = (
        select(wallets.c.local_balance - wallets.c.local_held - expired)
        .where(wallets.c.account_id == account_id, wallets.c.customer_uuid == customer_uuid)
        .scalar_subquery()
    )
    return func.coalesce(points, 0)


def wallet_figures(account_id: str) -> Any:
    """(customer_uuid, global_balance, local_balance, updated_at) of the account's wallets:
    the ledger balances (held credit included), for another domain to join on its customers."""
    return (
        select(
            wallets.c.customer_uuid,
            wallets.c.global_balance,
            wallets.c.local_balance,
            wallets.c.updated_at,
        )
        .where(wallets.c.account_id == account_id)
        .subquery("wallet_figures")
    )
