"""Per-request context of the dialect: the native one plus a loader of order totals."""

from __future__ import annotations

from dataclasses import dataclass

from patron.api.graphql.context import BatchLoader, Context
from patron.orders.queries import NO_ORDERS, OrderTotals, customer_order_totals


@dataclass
class LightfunnelsContext(Context):
    def order_totals_by_customer(self) -> BatchLoader[str, OrderTotals]:
        """``expenses`` and ``orders_count`` of a page's customers, fetched in one statement."""
        loader = self._loaders.get("order_totals_by_customer")
        if loader is None:
            loader = BatchLoader(
                lambda keys: dict(
                    customer_order_totals(self.connection(), self.principal.account_id, keys)
                ),
                NO_ORDERS,
            )
            self._loaders["order_totals_by_customer"] = loader
        return loader
