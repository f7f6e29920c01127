"""SQL for stamp cards and stamped orders. Every statement is scoped by the account."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from patron.orders.stamps.models import StampCard
from patron.orders.stamps.tables import order_stamps, stamp_cards


def is_stamped(connection: Connection, account_id: str, order_uuid: str) -> bool:
    found = connection.execute(
        select(order_stamps.c.order_uuid).where(
            order_stamps.c.account_id == account_id, order_stamps.c.order_uuid == order_uuid
        )
    ).first()
    return found is not None


def card_for_update(
    connection: Connection, account_id: str, customer_uuid: str, now: datetime
) -> StampCard:
    """The customer's card under its row's lock; an empty one is created first if none is."""
    query = select(stamp_cards).where(
        stamp_cards.c.account_id == account_id, stamp_cards.c.customer_uuid == customer_uuid
    )
    row = connection.execute(query.with_for_update()).first()
    if row is None:
        connection.execute(
            insert(stamp_cards).values(
                account_id=account_id,
                customer_uuid=customer_uuid,
                stamps=0,
                rewards=0,
                updated_at=now,
            )
        )
        return StampCard(customer_uuid=customer_uuid)
    return StampCard(customer_uuid=customer_uuid, stamps=int(row.stamps), rewards=int(row.rewards))


def update_card(
    connection: Connection,
    account_id: str,
    customer_uuid: str,
    *,
    stamps: int,
    rewards: int,
    now: datetime,
) -> None:
    connection.execute(
        update(stamp_cards)
        .where(stamp_cards.c.account_id == account_id, stamp_cards.c.customer_uuid == customer_uuid)
        .values(stamps=stamps, rewards=rewards, updated_at=now)
    )


def record_stamp(
    connection: Connection,
    account_id: str,
    order_uuid: str,
    customer_uuid: str,
    redemption_uuid: str | None,
    now: datetime,
) -> None:
    connection.execute(
        insert(order_stamps).values(
            account_id=account_id,
            order_uuid=order_uuid,
            customer_uuid=customer_uuid,
            redemption_uuid=redemption_uuid,
            created_at=now,
        )
    )


def cards_for(
    connection: Connection, account_id: str, customer_uuids: Sequence[str]
) -> dict[str, StampCard]:
    """The cards of many customers in one statement; an empty card where none exists yet."""
    found = {uuid: StampCard(customer_uuid=uuid) for uuid in customer_uuids}
    if not customer_uuids:
        return found
    rows = connection.execute(
        select(stamp_cards).where(
            stamp_cards.c.account_id == account_id,
            stamp_cards.c.customer_uuid.in_(list(customer_uuids)),
        )
    )
    for row in rows:
        found[row.customer_uuid] = StampCard(
            customer_uuid=row.customer_uuid, stamps=int(row.stamps), rewards=int(row.rewards)
        )
    return found
