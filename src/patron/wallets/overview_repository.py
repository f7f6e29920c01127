"""The console's overview: totals over the account's wallets, days' ledger totals and lots,
each one statement whatever the number of wallets or entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from patron.core.clock import as_utc
from patron.wallets.lot_tables import credit_lots
from patron.wallets.models import Reason
from patron.wallets.tables import credit_day_totals, wallets


def _utc_day(connection: Connection, column: Any) -> Any:
    """A timestamp's UTC calendar day, as the store can group by it."""
    if connection.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def balance_totals(connection: Connection, account_id: str) -> dict[str, int]:
    """The sums of the account's wallets' balances and holds."""
    w = wallets.c
    row = connection.execute(
        select(
            func.coalesce(func.sum(w.global_balance), 0).label("global_balance"),
            func.coalesce(func.sum(w.local_balance), 0).label("local_balance"),
            func.coalesce(func.sum(w.global_held), 0).label("global_held"),
            func.coalesce(func.sum(w.local_held), 0).label("local_held"),
        ).where(w.account_id == account_id)
    ).one()
    return {key: int(value) for key, value in row._mapping.items()}


def daily_flows(connection: Connection, account_id: str, since: datetime) -> list[Any]:
    """(day, credit_type, action, expiry, total) of the entries written on the days from
    ``since`` (a UTC midnight) on, read from the days' totals: a few rows a day."""
    t = credit_day_totals.c
    expiry = (t.reason == Reason.EXPIRY.value).label("expiry")
    return list(
        connection.execute(
            select(t.day, t.credit_type, t.action, expiry, func.sum(t.total).label("total"))
            .where(t.account_id == account_id, t.day >= as_utc(since).date())
            .group_by(t.day, t.credit_type, t.action, expiry)
        )
    )


def expiring_by_day(
    connection: Connection, account_id: str, now: datetime, until: datetime
) -> list[Any]:
    """(day, credit_type, total) of credit left in lots expiring between ``now`` and ``until``."""
    lot = credit_lots.c
    day = _utc_day(connection, lot.expires_at).label("day")
    return list(
        connection.execute(
            select(day, lot.credit_type, func.sum(lot.remaining).label("total"))
            .where(
                lot.account_id == account_id,
                lot.expires_at > now,
                lot.expires_at <= until,
                lot.remaining > 0,
                lot.expiry_entry_uuid.is_(None),
            )
            .group_by(day, lot.credit_type)
        )
    )
