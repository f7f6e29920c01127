"""Wallet figures as correlated subqueries, for another domain to compose into one statement
of its own. Nothing here runs a statement, and each subquery is scoped by the account."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select, true

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


class JoinedWallet:
    """Each customer's open wallet joined to a read of customers, for another domain to print
    customers and their wallets from one statement. ``join`` gives the outer join of
    ``source`` (whose ``customer_uuid`` column holds the customer) and how to read a wallet
    column from it, labelled ``PREFIX + name``. The values are the stored ones:
    ``service.joined_wallet_values`` turns them into wallet records.

    On PostgreSQL the wallet is read by a LATERAL subquery of one row, so that each customer
    costs one index lookup whatever the plan's estimate of the source's size (a cached
    generic plan otherwise hashes every wallet of the account)."""

    PREFIX = "wallet__"

    def join(
        self, source: Any, account_id: Any, customer_uuid: Any, dialect: str
    ) -> tuple[Any, Callable[[str], Any]]:
        wallet = wallets.alias("joined_wallet")
        matches = and_(
            wallet.c.account_id == account_id,
            wallet.c.customer_uuid == customer_uuid,
            wallet.c.erased_at.is_(None),
        )
        if dialect != "postgresql":
            joined = source.outerjoin(wallet, matches)
            return joined, lambda name: wallet.c[name].label(self.PREFIX + name)
        one = (
            select(*(column for column in wallet.c if column.name != "erased_at"))
            .where(matches)
            .limit(1)
            .lateral("joined_wallet")
        )
        return source.outerjoin(one, true()), lambda name: one.c[name].label(self.PREFIX + name)


JOINED_WALLET = JoinedWallet()


def open_wallet_uuid(account_id: Any, customer_uuid: Any) -> Select[Any]:
    """The uuid of the customer's open wallet (none once the contact is erased), as a query
    for another domain's statement (a CTE): one row, or none without such a contact."""
    return select(wallets.c.uuid.label("wallet_uuid")).where(
        wallets.c.account_id == account_id,
        wallets.c.customer_uuid == customer_uuid,
        wallets.c.erased_at.is_(None),
    )
