"""SQL for promotions. Every statement is scoped by the account."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Integer,
    String,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from patron.core.clock import as_utc
from patron.core.db import Precompiled, forget_memo, transaction_memo
from patron.customers import subqueries as customer_rows
from patron.orders.promotions.models import Audience, Promotion, Reward
from patron.orders.promotions.tables import promotion_stores, promotions
from patron.orders.repository import completed_orders_count
from patron.orders.tables import stores
from patron.wallets import subqueries as wallet_figures


def promotion_from_row(row: Any, store_uuids: Sequence[str] = ()) -> Promotion:
    reward = Reward(row.reward)
    multiplier = reward is Reward.POINTS_MULTIPLIER
    return Promotion(
        uuid=row.uuid,
        number=row.number,
        name=row.name,
        description=row.description,
        active=bool(row.active),
        starts_at=as_utc(row.starts_at) if row.starts_at else None,
        ends_at=as_utc(row.ends_at) if row.ends_at else None,
        all_stores=bool(row.all_stores),
        store_uuids=tuple(store_uuids),
        audience=Audience(row.audience),
        audience_value=row.audience_value,
        reward=reward,
        reward_multiplier=Decimal(row.reward_value) if multiplier else None,
        reward_amount=None if multiplier else int(row.reward_value),
        reward_credit_type=row.reward_credit_type,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def insert_promotion(connection: Connection, values: dict[str, Any]) -> None:
    forget_memo(connection)  # the multipliers' windows the transaction's orders read
    connection.execute(insert(promotions).values(**values))


def update_promotion(
    connection: Connection, account_id: str, promotion_uuid: str, values: dict[str, Any]
) -> None:
    forget_memo(connection)
    connection.execute(
        update(promotions)
        .where(promotions.c.account_id == account_id, promotions.c.uuid == promotion_uuid)
        .values(**values)
    )


def set_stores(
    connection: Connection, account_id: str, promotion_uuid: str, store_uuids: Sequence[str]
) -> None:
    connection.execute(
        delete(promotion_stores).where(
            promotion_stores.c.account_id == account_id,
            promotion_stores.c.promotion_uuid == promotion_uuid,
        )
    )
    if store_uuids:
        connection.execute(
            insert(promotion_stores),
            [
                {"account_id": account_id, "promotion_uuid": promotion_uuid, "store_uuid": store}
                for store in store_uuids
            ],
        )


def existing_stores(
    connection: Connection, account_id: str, store_uuids: Sequence[str]
) -> set[str]:
    if not store_uuids:
        return set()
    rows = connection.execute(
        select(stores.c.uuid).where(
            stores.c.account_id == account_id, stores.c.uuid.in_(list(store_uuids))
        )
    )
    return {row.uuid for row in rows}


def _with_stores(connection: Connection, account_id: str, rows: Sequence[Any]) -> list[Promotion]:
    """Promotions with their store lists: one more statement, only when some are limited."""
    limited = [row.uuid for row in rows if not row.all_stores]
    by_promotion: dict[str, list[str]] = {uuid: [] for uuid in limited}
    if limited:
        links = connection.execute(
            select(promotion_stores.c.promotion_uuid, promotion_stores.c.store_uuid)
            .where(
                promotion_stores.c.account_id == account_id,
                promotion_stores.c.promotion_uuid.in_(limited),
            )
            .order_by(promotion_stores.c.promotion_uuid, promotion_stores.c.store_uuid)
        )
        for link in links:
            by_promotion[link.promotion_uuid].append(link.store_uuid)
    return [promotion_from_row(row, by_promotion.get(row.uuid, ())) for row in rows]


def get_promotion(
    connection: Connection, account_id: str, promotion_uuid: str, *, for_update: bool = False
) -> Promotion | None:
    query = select(promotions).where(
        promotions.c.account_id == account_id, promotions.c.uuid == promotion_uuid
    )
    if for_update:
        query = query.with_for_update()
    row = connection.execute(query).first()
    return _with_stores(connection, account_id, [row])[0] if row else None


def promotions_by_uuids(
    connection: Connection, account_id: str, uuids: Sequence[str]
) -> list[Promotion]:
    rows = connection.execute(
        select(promotions).where(
            promotions.c.account_id == account_id, promotions.c.uuid.in_(list(uuids))
        )
    ).all()
    return _with_stores(connection, account_id, rows) if rows else []


def list_promotions(
    connection: Connection,
    account_id: str,
    *,
    limit: int,
    offset: int,
    active: bool | None = None,
    uuid: str | None = None,
) -> list[Promotion]:
    """Newest first; only those with this ``active`` flag or ``uuid`` when given."""
    rows = connection.execute(
        select(promotions)
        .where(promotions.c.account_id == account_id, *_promotion_filter(active, uuid))
        .order_by(promotions.c.number.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return _with_stores(connection, account_id, rows)


def _promotion_filter(active: bool | None, uuid: str | None) -> list[Any]:
    conditions: list[Any] = []
    if active is not None:
        conditions.append(promotions.c.active == active)
    if uuid is not None:
        conditions.append(promotions.c.uuid == uuid)
    return conditions


def count_promotions(connection: Connection, account_id: str) -> int:
    return int(
        connection.execute(
            select(func.count())
            .select_from(promotions)
            .where(promotions.c.account_id == account_id)
        ).scalar_one()
    )


@cache
def _running(account_id: Any, now: Any) -> list[ColumnElement[bool]]:
    """The account's promotions that run at ``now``: active, started and not ended."""
    return [
        promotions.c.account_id == account_id,
        promotions.c.active.is_(True),
        or_(promotions.c.starts_at.is_(None), promotions.c.starts_at <= now),
        or_(promotions.c.ends_at.is_(None), promotions.c.ends_at > now),
    ]


def _available_statement(dialect: str, with_store: bool) -> Precompiled:
    """The statement of ``available_for_customers``, built once per store and shape: it
    cost more to build and key per order than to run."""
    account_id = bindparam("account_id", type_=String)
    now = bindparam("now", type_=DateTime(timezone=True))
    store_uuid = bindparam("store_uuid", type_=String)
    store_found = (
        select(func.count())
        .select_from(stores)
        .where(stores.c.account_id == account_id, stores.c.uuid == store_uuid)
        .scalar_subquery()
        if with_store
        else literal(1)
    )
    found_customers = customer_rows.birthday_months(dialect, account_id, "uuids")
    owner = found_customers.c.uuid
    who = (
        select(
            owner.label("customer_uuid"),
            found_customers.c.birthday_month,
            wallet_figures.points_available(account_id, owner, now).label("points"),
            completed_orders_count(account_id, owner).label("orders_count"),
            store_found.label("store_found"),
        )
        .select_from(found_customers)
        .subquery("who")
    )
    rules = [
        *_running(account_id, now),
        or_(
            promotions.c.audience == Audience.EVERYONE.value,
            and_(
                promotions.c.audience == Audience.MIN_POINTS.value,
                who.c.points >= promotions.c.audience_value,
            ),
            and_(
                promotions.c.audience == Audience.MIN_ORDERS.value,
                who.c.orders_count >= promotions.c.audience_value,
            ),
            and_(
                promotions.c.audience == Audience.BIRTHDAY_MONTH.value,
                who.c.birthday_month == bindparam("month", type_=Integer),
            ),
        ),
    ]
    if with_store:
        rules.append(
            or_(
                promotions.c.all_stores.is_(True),
                exists().where(
                    promotion_stores.c.account_id == account_id,
                    promotion_stores.c.promotion_uuid == promotions.c.uuid,
                    promotion_stores.c.store_uuid == store_uuid,
                ),
            )
        )
    return Precompiled(
        select(who.c.customer_uuid, who.c.store_found, promotions)
        .select_from(who.outerjoin(promotions, and_(*rules)))
        .order_by(who.c.customer_uuid, promotions.c.number)
    )


# The windows of the account's active POINTS_MULTIPLIER promotions not ended at ``now``.
_MULTIPLIER_WINDOWS = Precompiled(
    select(promotions.c.starts_at, promotions.c.ends_at).where(
        promotions.c.account_id == bindparam("account_id", type_=String),
        promotions.c.active.is_(True),
        promotions.c.reward == Reward.POINTS_MULTIPLIER.value,
        or_(
            promotions.c.ends_at.is_(None),
            promotions.c.ends_at > bindparam("now", type_=DateTime(timezone=True)),
        ),
    )
)


def any_points_multiplier_running(connection: Connection, account_id: str, now: datetime) -> bool:
    """Whether any active POINTS_MULTIPLIER promotion of the account runs at ``now``,
    whoever it is for: an order asks this before it evaluates the audience rules of one
    customer (points available, orders completed), a statement whose planning alone cost
    PostgreSQL ~0.7 ms an order when the account runs no multiplier, as most do most of
    the time.

    The windows of the multipliers not yet ended are read once per transaction (the orders
    of a batch share them, ``transaction_memo``) and each ``now`` is checked against them: a
    multiplier that starts or ends between two orders of a batch counts for the second as
    it would have. A promotion written in the transaction forgets them."""
    memo = transaction_memo(connection)
    key = f"{_WINDOWS}:{account_id}"
    kept: tuple[datetime, list[tuple[datetime | None, datetime | None]]] | None = memo.get(key)
    if kept is None or now < kept[0]:
        rows = _MULTIPLIER_WINDOWS.execute(connection, {"account_id": account_id, "now": now})
        windows = [
            (as_utc(row[0]) if row[0] else None, as_utc(row[1]) if row[1] else None)
            for row in rows.all()
        ]
        kept = memo[key] = (now, windows)
    return any(
        (starts is None or starts <= now) and (ends is None or ends > now)
        for starts, ends in kept[1]
    )


# The key under which the multipliers' windows are shared within a transaction.
_WINDOWS = "multiplier_windows"


def available_for_customers(
    connection: Connection,
    account_id: str,
    customer_uuids: Sequence[str],
    *,
    store_uuid: str | None,
    now: datetime,
) -> tuple[dict[str, list[Promotion]], bool]:
    """The promotions each customer qualifies for now, evaluated by one statement.

    Returns promotions by customer (customers that do not exist are absent) and whether
    the store exists. Each customer's row carries what the audience rules need (available
    points less unswept expired credit, completed orders, birthday month); the promotions
    are outer-joined on every rule, so a customer without any still answers.
    """
    if not customer_uuids:
        return {}, True
    statement = _available_statement(connection.dialect.name, store_uuid is not None)
    rows = statement.execute(
        connection,
        {
            "account_id": account_id,
            "uuids": list(customer_uuids),
            "now": now,
            "month": now.month,
            "store_uuid": store_uuid,
        },
    ).all()
    store_exists = all(row.store_found for row in rows)
    found: dict[str, list[Promotion]] = {row.customer_uuid: [] for row in rows}
    matched = [row for row in rows if row.uuid is not None]
    for row, promotion in zip(matched, _with_stores(connection, account_id, matched), strict=True):
        found[row.customer_uuid].append(promotion)
    return found, store_exists


def any_in_points(connection: Connection, account_id: str) -> bool:
    """Whether a promotion keeps an amount in points: a MIN_POINTS audience or a LOCAL reward."""
    query = select(
        exists().where(
            promotions.c.account_id == account_id,
            or_(
                promotions.c.audience == Audience.MIN_POINTS.value,
                promotions.c.reward_credit_type == "LOCAL",
            ),
        )
    )
    return bool(connection.execute(query).scalar())
