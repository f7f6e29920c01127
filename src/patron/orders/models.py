"""Stores, orders and refunds as the core hands them out and takes them in.

Amounts are integers of the currency's smallest unit (orders) or of the points precision
(points); commands carry the exact decimal from the edge and are checked by the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class Store:
    uuid: str
    number: int
    name: str
    external_id: str | None
    points_multiplier: Decimal | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoreCommand:
    name: str
    external_id: str | None = None
    points_multiplier: object | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class Order:
    uuid: str
    number: int
    store_uuid: str | None
    external_id: str
    customer_uuid: str | None
    total: int
    currency: str
    payment_type: str | None
    order_type: str | None
    status: OrderStatus
    completed_at: datetime | None
    refunded: int
    points_earned: int
    points_clawed_back: int
    clawback_shortfall: int
    credit_paid: int
    credit_returned: int
    lines: list[dict[str, Any]] | None
    created_at: datetime
    updated_at: datetime

    @property
    def paid_left(self) -> int:
        """What can still be refunded."""
        return self.total - self.refunded


@dataclass(frozen=True, slots=True)
class OrderCommand:
    """``recordOrder``: the same (store, external id) again is a replay or a status change."""

    external_id: str
    total: object
    currency: str
    customer_uuid: str | None = None
    store_uuid: str | None = None
    payment_type: str | None = None
    order_type: str | None = None
    status: str = OrderStatus.COMPLETED.value
    completed_at: datetime | None = None
    lines: object | None = None
    credit_used: object | None = None


@dataclass(frozen=True, slots=True)
class Refund:
    uuid: str
    order_uuid: str
    external_id: str
    amount: int
    points_clawed_back: int
    clawback_shortfall: int
    credit_returned: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RefundCommand:
    """A refund of ``amount`` (the whole rest when None), applied once per ``external_id``."""

    order_uuid: str
    external_id: str
    amount: object | None = None


@dataclass(frozen=True, slots=True)
class RefundResult:
    refund: Refund
    order: Order


@dataclass(frozen=True, slots=True)
class CustomerOrderStats:
    """``orders_count`` counts completed orders; ``expenses`` is their totals less refunds."""

    orders_count: int = 0
    expenses: int = 0
