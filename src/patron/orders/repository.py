"""SQL for stores, orders and refunds. Every statement is scoped by the account."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, insert, select, true, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from patron.core.bulk import any_of
from patron.core.clock import as_utc
from patron.core.db import Precompiled
from patron.core.events import EVENT_COLUMNS, outbox_events, queue_row
from patron.orders.models import CustomerOrderStats, Order, OrderStatus, Refund, Store
from patron.orders.tables import order_refunds, orders, stores
from patron.wallets import subqueries as wallet_figures

NO_STORE = ""


def store_from_row(row: Any) -> Store:
    return Store(
        uuid=row.uuid,
        number=row.number,
        name=row.name,
        external_id=row.external_id,
        points_multiplier=Decimal(row.points_multiplier) if row.points_multiplier else None,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def order_from_row(row: Any) -> Order:
    return Order(
        uuid=row.uuid,
        number=row.number,
        store_uuid=row.store_key or None,
        external_id=row.external_id,
        customer_uuid=row.customer_uuid,
        total=row.total,
        currency=row.currency,
        payment_type=row.payment_type,
        order_type=row.order_type,
        status=OrderStatus(row.status),
        completed_at=as_utc(row.completed_at) if row.completed_at else None,
        refunded=row.refunded,
        points_earned=row.points_earned,
        points_clawed_back=row.points_clawed_back,
        clawback_shortfall=row.clawback_shortfall,
        credit_paid=row.credit_paid,
        credit_returned=row.credit_returned,
        lines=list(row.lines) if row.lines is not None else None,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def refund_from_row(row: Any) -> Refund:
    return Refund(
        uuid=row.uuid,
        order_uuid=row.order_uuid,
        external_id=row.external_id,
        amount=row.amount,
        points_clawed_back=row.points_clawed_back,
        clawback_shortfall=row.clawback_shortfall,
        credit_returned=row.credit_returned,
        created_at=as_utc(row.created_at),
    )


# Stores


def insert_store(connection: Connection, values: dict[str, Any]) -> None:
    connection.execute(insert(stores).values(**values))


def get_store(connection: Connection, account_id: str, store_uuid: str) -> Store | None:
    row = connection.execute(
        select(stores).where(stores.c.account_id == account_id, stores.c.uuid == store_uuid)
    ).first()
    return store_from_row(row) if row else None


def store_by_external_id(connection: Connection, account_id: str, external_id: str) -> Store | None:
    row = connection.execute(
        select(stores).where(stores.c.account_id == account_id, stores.c.external_id == external_id)
    ).first()
    return store_from_row(row) if row else None


def list_stores(connection: Connection, account_id: str, *, limit: int, offset: int) -> list[Store]:
    rows = connection.execute(
        select(stores)
        .where(stores.c.account_id == account_id)
        .order_by(stores.c.number)
        .limit(limit)
        .offset(offset)
    )
    return [store_from_row(row) for row in rows]


def stores_by_uuid(
    connection: Connection, account_id: str, store_uuids: Sequence[str]
) -> dict[str, Store]:
    if not store_uuids:
        return {}
    rows = connection.execute(
        select(stores).where(
            stores.c.account_id == account_id, stores.c.uuid.in_(list(store_uuids))
        )
    )
    return {row.uuid: store_from_row(row) for row in rows}


# Orders


@dataclass(frozen=True, slots=True)
class NewOrder:
    """What ``insert_new_order`` did. ``written``: False when nothing was, because an order of
    its store already has its external id, or (``contact_missing``) the contact it names has
    no open wallet. ``wallet_uuid``: that contact's wallet, when the insert looked it up."""

    written: bool
    wallet_uuid: str | None = None
    contact_missing: bool = False


def insert_finds_wallet(connection: Connection) -> bool:
    """Whether ``insert_new_order`` looks the contact's wallet up itself (PostgreSQL: in the
    same statement, a round trip less); elsewhere the caller looks it up first."""
    return connection.dialect.name == "postgresql"


def insert_new_order(
    connection: Connection, values: dict[str, Any], event: dict[str, Any]
) -> NewOrder:
    """Insert the order in ``values`` and queue ``event`` (an outbox row, ``event_row``)
    with it, unless an order of its store already has its external id: then nothing is
    written. On PostgreSQL one statement (the event's INSERT reads the order's), which for an
    order with a contact also finds the contact's open wallet and writes nothing without one;
    elsewhere two."""
    if not insert_finds_wallet(connection):
        columns = tuple(values)
        statement = _SQLITE_NEW_ORDER.get(columns)
        if statement is None:
            statement = _SQLITE_NEW_ORDER[columns] = Precompiled(
                sqlite_insert(orders)
                .values({name: bindparam(name) for name in columns})
                .on_conflict_do_nothing(index_elements=_EXTERNAL_KEY)
                .returning(orders.c.uuid)
            )
        if statement.execute(connection, values).first() is None:
            return NewOrder(written=False)
        queue_row(connection, event)
        return NewOrder(written=True)
    with_contact = values.get("customer_uuid") is not None
    key = (tuple(values), with_contact)
    statement = _NEW_ORDER.get(key)
    if statement is None:
        statement = _NEW_ORDER[key] = _new_order_statement(tuple(values), with_contact)
    parameters = {f"o_{name}": value for name, value in values.items()}
    parameters.update({f"e_{name}": value for name, value in event.items()})
    row = statement.execute(connection, parameters).first()
    if not with_contact:
        return NewOrder(written=row is not None)
    if row is None:
        return NewOrder(written=False, contact_missing=True)
    return NewOrder(written=row.event_id is not None, wallet_uuid=str(row.wallet_uuid))


_EXTERNAL_KEY = ["account_id", "store_key", "external_id"]
_NEW_ORDER: dict[tuple[tuple[str, ...], bool], Precompiled] = {}
# SQLite's: the order (per set of columns given), then its event (``events.queue_row``).
_SQLITE_NEW_ORDER: dict[tuple[str, ...], Precompiled] = {}


def _new_order_statement(columns: tuple[str, ...], with_contact: bool) -> Precompiled:
    """The order's INSERT and its event's, in one statement. ``with_contact``: the order is
    inserted from the contact's open wallet, found in a CTE that the statement answers (no
    row: no such contact, nothing written; a row without an event id: the external id is
    taken)."""
    insert_order = postgresql_insert(orders)
    if with_contact:
        wallet = wallet_figures.open_wallet_uuid(
            bindparam("o_account_id"), bindparam("o_customer_uuid")
        ).cte("wallet")
        given = select(
            *(bindparam(f"o_{name}", type_=orders.c[name].type) for name in columns)
        ).select_from(wallet)
        insert_order = insert_order.from_select(list(columns), given)
    else:
        insert_order = insert_order.values({name: bindparam(f"o_{name}") for name in columns})
    written = (
        insert_order.on_conflict_do_nothing(index_elements=_EXTERNAL_KEY)
        .returning(orders.c.uuid)
        .cte("written")
    )
    event = select(
        *(bindparam(f"e_{name}", type_=outbox_events.c[name].type) for name in EVENT_COLUMNS),
    ).select_from(written)
    queued = (
        outbox_events.insert()
        .from_select(list(EVENT_COLUMNS), event)
        .returning(outbox_events.c.event_id)
    )
    if not with_contact:
        return Precompiled(queued.add_cte(written))
    queued_cte = queued.cte("queued")
    answer = select(wallet.c.wallet_uuid, queued_cte.c.event_id).select_from(
        wallet.outerjoin(queued_cte, true())
    )
    return Precompiled(answer.add_cte(written).add_cte(queued_cte))


def inserted_order(values: dict[str, Any]) -> Order:
    """The order ``values`` inserted, as stored (the columns not given take their defaults:
    nothing refunded, clawed back or returned)."""
    return order_from_row(SimpleNamespace(**_INSERT_DEFAULTS, **values))


_INSERT_DEFAULTS = {
    "refunded": 0,
    "points_clawed_back": 0,
    "clawback_shortfall": 0,
    "credit_returned": 0,
}


def _by_uuid(for_update: bool) -> Select[Any]:
    query = select(orders).where(
        orders.c.account_id == bindparam("account_id"), orders.c.uuid == bindparam("uuid")
    )
    return query.with_for_update() if for_update else query


def _by_external_id(for_update: bool) -> Select[Any]:
    query = select(orders).where(
        orders.c.account_id == bindparam("account_id"),
        orders.c.store_key == bindparam("store_key"),
        orders.c.external_id == bindparam("external_id"),
    )
    return query.with_for_update() if for_update else query


# Read on every order recorded: built once, with and without the row's lock (a statement
# built per call cost its construction and cache key every time). Run as Core statements:
# their result's columns are then described once, not per execution.
_BY_UUID = {locked: _by_uuid(locked) for locked in (False, True)}
_BY_EXTERNAL_ID = {locked: _by_external_id(locked) for locked in (False, True)}


def get_order(
    connection: Connection, account_id: str, order_uuid: str, *, for_update: bool = False
) -> Order | None:
    found = connection.execute(_BY_UUID[for_update], {"account_id": account_id, "uuid": order_uuid})
    row = found.first()
    return order_from_row(row) if row else None


def orders_by_uuids(connection: Connection, account_id: str, uuids: Sequence[str]) -> list[Order]:
    rows = connection.execute(
        select(orders).where(orders.c.account_id == account_id, orders.c.uuid.in_(list(uuids)))
    )
    return [order_from_row(row) for row in rows]


def order_by_external_id(
    connection: Connection,
    account_id: str,
    store_uuid: str | None,
    external_id: str,
    *,
    for_update: bool = False,
) -> Order | None:
    found = connection.execute(
        _BY_EXTERNAL_ID[for_update],
        {
            "account_id": account_id,
            "store_key": store_uuid or NO_STORE,
            "external_id": external_id,
        },
    )
    row = found.first()
    return order_from_row(row) if row else None


def update_order(
    connection: Connection, account_id: str, order_uuid: str, values: dict[str, Any]
) -> None:
    connection.execute(
        update(orders)
        .where(orders.c.account_id == account_id, orders.c.uuid == order_uuid)
        .values(**values)
    )


def list_orders(
    connection: Connection,
    account_id: str,
    *,
    limit: int,
    offset: int,
    store_uuid: str | None = None,
) -> list[Order]:
    """Newest first (by the order's per-account number)."""
    query = select(orders).where(orders.c.account_id == account_id)
    if store_uuid is not None:
        query = query.where(orders.c.store_key == store_uuid)
    rows = connection.execute(query.order_by(orders.c.number.desc()).limit(limit).offset(offset))
    return [order_from_row(row) for row in rows]


def _completed_between(completed: tuple[datetime | None, datetime | None]) -> list[Any]:
    start, end = completed
    conditions: list[Any] = []
    if start is not None:
        conditions.append(orders.c.completed_at >= as_utc(start))
    if end is not None:
        conditions.append(orders.c.completed_at <= as_utc(end))
    return conditions


def orders_for_customers(
    connection: Connection,
    account_id: str,
    customer_uuids: Sequence[str],
    *,
    limit: int,
    offset: int,
    store_uuid: str | None = None,
    completed: tuple[datetime | None, datetime | None] = (None, None),
) -> dict[str, list[Order]]:
    """Newest-first pages of orders for many customers in one statement (a window each);
    ``completed``: only orders completed from/to these times (inclusive), when given."""
    found: dict[str, list[Order]] = {uuid: [] for uuid in customer_uuids}
    if not customer_uuids:
        return found
    conditions = [
        orders.c.account_id == account_id,
        orders.c.customer_uuid.in_(list(customer_uuids)),
        *_completed_between(completed),
    ]
    if store_uuid is not None:
        conditions.append(orders.c.store_key == store_uuid)
    position = (
        func.row_number()
        .over(partition_by=orders.c.customer_uuid, order_by=orders.c.number.desc())
        .label("position")
    )
    ranked = select(orders, position).where(*conditions).subquery()
    rows = connection.execute(
        select(ranked)
        .where(ranked.c.position > offset, ranked.c.position <= offset + limit)
        .order_by(ranked.c.customer_uuid, ranked.c.position)
    )
    for row in rows:
        found[row.customer_uuid].append(order_from_row(row))
    return found


def count_for_customers(
    connection: Connection,
    account_id: str,
    customer_uuids: Sequence[str],
    *,
    store_uuid: str | None = None,
    completed: tuple[datetime | None, datetime | None] = (None, None),
) -> dict[str, int]:
    """How many orders each customer has (at the store, completed in the range, when given),
    in one statement."""
    found = dict.fromkeys(customer_uuids, 0)
    if not customer_uuids:
        return found
    query = select(orders.c.customer_uuid, func.count().label("orders_count")).where(
        orders.c.account_id == account_id,
        orders.c.customer_uuid.in_(list(customer_uuids)),
        *_completed_between(completed),
    )
    if store_uuid is not None:
        query = query.where(orders.c.store_key == store_uuid)
    for row in connection.execute(query.group_by(orders.c.customer_uuid)):
        found[row.customer_uuid] = int(row.orders_count)
    return found


_STATS = {
    dialect: select(
        orders.c.customer_uuid,
        func.count().label("orders_count"),
        func.coalesce(func.sum(orders.c.total - orders.c.refunded), 0).label("expenses"),
    )
    .where(
        orders.c.account_id == bindparam("account_id"),
        any_of(dialect, orders.c.customer_uuid, "uuids"),
        orders.c.status == OrderStatus.COMPLETED.value,
    )
    .group_by(orders.c.customer_uuid)
    for dialect in ("postgresql", "sqlite")
}


def stats_for_customers(
    connection: Connection, account_id: str, customer_uuids: Sequence[str]
) -> dict[str, CustomerOrderStats]:
    """Completed orders and their totals less refunds, per customer, in one statement."""
    found = {uuid: CustomerOrderStats() for uuid in customer_uuids}
    if not customer_uuids:
        return found
    rows = connection.execute(
        _STATS[connection.dialect.name],
        {"account_id": account_id, "uuids": list(customer_uuids)},
    )
    for row in rows:
        found[row.customer_uuid] = CustomerOrderStats(
            orders_count=int(row.orders_count), expenses=int(row.expenses)
        )
    return found


def completed_orders_count(account_id: Any, customer_uuid: Any) -> Any:
    """A correlated scalar subquery: the completed orders of ``customer_uuid``."""
    return (
        select(func.count())
        .select_from(orders)
        .where(
            orders.c.account_id == account_id,
            orders.c.customer_uuid == customer_uuid,
            orders.c.status == OrderStatus.COMPLETED.value,
        )
        .scalar_subquery()
    )


# Refunds


def insert_refund(connection: Connection, values: dict[str, Any]) -> None:
    connection.execute(insert(order_refunds).values(**values))


def refund_by_external_id(
    connection: Connection, account_id: str, order_uuid: str, external_id: str
) -> Refund | None:
    row = connection.execute(
        select(order_refunds).where(
            order_refunds.c.account_id == account_id,
            order_refunds.c.order_uuid == order_uuid,
            order_refunds.c.external_id == external_id,
        )
    ).first()
    return refund_from_row(row) if row else None


def refunds_for_orders(
    connection: Connection, account_id: str, order_uuids: Sequence[str]
) -> dict[str, list[Refund]]:
    """Refunds of many orders, oldest first, in one statement."""
    found: dict[str, list[Refund]] = {uuid: [] for uuid in order_uuids}
    if not order_uuids:
        return found
    rows = connection.execute(
        select(order_refunds)
        .where(
            order_refunds.c.account_id == account_id,
            order_refunds.c.order_uuid.in_(list(order_uuids)),
        )
        .order_by(order_refunds.c.created_at, order_refunds.c.uuid)
    )
    for row in rows:
        found[row.order_uuid].append(refund_from_row(row))
    return found
