"""Reads of a page of customers' wallets: just the columns a document prints, and the points
each customer has earned; one statement per page whatever its size."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, literal_column, or_, select, true

from patron.core.bulk import any_of
from patron.core.clock import as_utc
from patron.core.db import Precompiled
from patron.core.records import RECORD_TYPES, Decode, records, unchanged
from patron.wallets.models import Action, CreditType, Reason
from patron.wallets.tables import credit_entries, wallets

_OPEN = wallets.c.erased_at.is_(None)

# Columns a projected read may ask for, and how a stored value becomes the model's value.
_WALLET_DECODE: dict[str, Decode] = {
    **{column.name: unchanged for column in wallets.c if column.name != "erased_at"},
    "created_at": as_utc,
    "updated_at": as_utc,
    "shopify_synced_at": lambda value: as_utc(value) if value else None,
}
WALLET_PROJECTABLE = frozenset(_WALLET_DECODE)
_PROJECTED_WALLETS: dict[tuple[str, tuple[str, ...]], Precompiled] = {}


def wallet_values_for_customers(
    connection: Connection, account_id: str, customer_uuids: Sequence[str], names: tuple[str, ...]
) -> list[Any]:
    """``wallets_for_customers`` reading only the named columns (with ``customer_uuid``,
    ``uuid`` and ``open_lots`` among them): records (:mod:`patron.core.records`) with the
    model's attribute names and values, and ``global_expired``/``local_expired`` at 0."""
    if not customer_uuids:
        return []
    dialect = connection.dialect.name
    query = _PROJECTED_WALLETS.get((dialect, names))
    if query is None:
        query = Precompiled(
            select(*(wallets.c[name] for name in names)).where(
                wallets.c.account_id == bindparam("account_id"),
                any_of(dialect, wallets.c.customer_uuid, "uuids"),
                _OPEN,
            )
        )
        if len(_PROJECTED_WALLETS) < RECORD_TYPES:
            _PROJECTED_WALLETS[(dialect, names)] = query
    rows = query.execute(
        connection, {"account_id": account_id, "uuids": list(customer_uuids)}
    ).all()
    return records(
        "WalletValues", rows, names, _WALLET_DECODE, extra=("global_expired", "local_expired")
    )


def wallet_records(rows: Sequence[Sequence[Any]], names: tuple[str, ...]) -> list[Any]:
    """Stored wallet values (in ``names`` order, read by another domain's statement) as the
    records ``wallet_values_for_customers`` gives."""
    return records(
        "WalletValues", rows, names, _WALLET_DECODE, extra=("global_expired", "local_expired")
    )


def _points_earned_query(dialect: str) -> Any:
    """LOCAL points earned per customer (see ``service.points_earned_for_customers``), for
    a list of customers bound at run time: built once per dialect."""
    entries = credit_entries.c
    owned = wallets.alias("owned")
    signed = case(
        (and_(entries.action == Action.ADD.value, entries.reverses_uuid.is_(None)), entries.amount),
        (
            and_(
                entries.action == Action.REMOVE.value,
                or_(
                    entries.reverses_uuid.is_not(None),
                    entries.reason == Reason.ORDER_REFUND.value,
                ),
            ),
            -entries.amount,
        ),
        else_=0,
    )
    return (
        select(wallets.c.customer_uuid, func.coalesce(func.sum(signed), 0))
        .select_from(
            wallets.join(
                credit_entries,
                and_(
                    entries.account_id == wallets.c.account_id,
                    entries.wallet_uuid == wallets.c.uuid,
                    # A literal, as the partial index of points entries is written: a bound
                    # value would leave the planners unable to use it.
                    entries.credit_type == literal_column(f"'{CreditType.LOCAL.value}'"),
                ),
            )
        )
        .where(
            wallets.c.account_id == bindparam("account_id"),
            any_of(dialect, wallets.c.customer_uuid, "uuids"),
            # SQLite would otherwise read every entry of the account and keep those of the
            # page's wallets; named as a list, its entries are found through their wallets.
            entries.wallet_uuid.in_(
                select(owned.c.uuid).where(
                    owned.c.account_id == bindparam("account_id"),
                    any_of(dialect, owned.c.customer_uuid, "uuids"),
                )
            )
            if dialect == "sqlite"
            else true(),
        )
        .group_by(wallets.c.customer_uuid)
    )


_POINTS_EARNED = {dialect: _points_earned_query(dialect) for dialect in ("postgresql", "sqlite")}


def points_earned(
    connection: Connection, account_id: str, customer_uuids: Sequence[str]
) -> dict[str, int]:
    """LOCAL points earned by each of the customers that has any entry, smallest unit."""
    rows = connection.execute(
        _POINTS_EARNED[connection.dialect.name],
        {"account_id": account_id, "uuids": list(customer_uuids)},
    )
    return {uuid: int(total) for uuid, total in rows}
