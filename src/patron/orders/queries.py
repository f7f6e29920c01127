"""Read-only order figures per customer, for list pages: one statement for a whole page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from patron.orders.tables import orders

# The status value of a completed order (orders.models.OrderStatus.COMPLETED).
_COMPLETED = "COMPLETED"


@dataclass(frozen=True, slots=True)
class OrderTotals:
    orders_count: int
    expenses: int  # minor units: completed totals less their refunds


NO_ORDERS = OrderTotals(orders_count=0, expenses=0)


def customer_order_totals(
    connection: Connection, account_id: str, customer_uuids: Sequence[str]
) -> dict[str, OrderTotals]:
    """Completed orders and what they came to, net of refunds, for each customer given."""
    found = dict.fromkeys(customer_uuids, NO_ORDERS)
    if not customer_uuids:
        return found
    rows = connection.execute(
        select(
            orders.c.customer_uuid,
            func.count().label("orders_count"),
            func.coalesce(func.sum(orders.c.total - orders.c.refunded), 0).label("expenses"),
        )
        .where(
            orders.c.account_id == account_id,
            orders.c.customer_uuid.in_(list(found)),
            orders.c.status == _COMPLETED,
        )
        .group_by(orders.c.customer_uuid)
    )
    for row in rows:
        found[row.customer_uuid] = OrderTotals(
            orders_count=int(row.orders_count), expenses=int(row.expenses)
        )
    return found
