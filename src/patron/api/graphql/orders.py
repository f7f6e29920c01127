"""Stores, orders, refunds and the earning rule on the native API (extensions, seed style)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from patron.accounts.principal import Principal
from patron.api.graphql.context import Context
from patron.api.graphql.errors import UserError, domain_errors_as
from patron.api.graphql.relay import Node
from patron.core.money import from_minor
from patron.core.paging import check_page
from patron.orders import service as order_service
from patron.orders import stores as store_service
from patron.orders.models import Order as OrderModel
from patron.orders.models import OrderCommand, RefundCommand, StoreCommand
from patron.orders.models import OrderStatus as OrderStatusModel
from patron.orders.models import Refund as RefundModel
from patron.orders.models import Store as StoreModel


class HasUuid(Protocol):
    uuid: str


strawberry.enum(
    OrderStatusModel,
    name="OrderStatus",
    description="PENDING orders may later become COMPLETED (and earn) or CANCELLED.",
)
OrderStatus = OrderStatusModel


@strawberry.type(description="Where orders are placed.")
class Store:
    uuid: str
    number: int = strawberry.field(description="Stable per-account integer id.")
    name: str
    external_id: str | None
    points_multiplier: Decimal | None = strawberry.field(
        description="Multiplies the account's earning rule for orders at this store."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, store: StoreModel) -> Store:
        return cls(
            uuid=store.uuid,
            number=store.number,
            name=store.name,
            external_id=store.external_id,
            points_multiplier=store.points_multiplier,
            created_at=store.created_at,
            updated_at=store.updated_at,
        )


@strawberry.type(description="A refund of part or all of an order.")
class OrderRefund:
    uuid: str
    external_id: str
    amount: Decimal
    points_clawed_back: Decimal = strawberry.field(description="Points taken back (LOCAL).")
    clawback_shortfall: Decimal = strawberry.field(
        description="Points that were due back but already spent."
    )
    credit_returned: Decimal = strawberry.field(description="GLOBAL credit given back.")
    created_at: datetime

    @classmethod
    def of(cls, refund: RefundModel, principal: Principal) -> OrderRefund:
        money, points = principal.currency_precision, principal.points_precision
        return cls(
            uuid=refund.uuid,
            external_id=refund.external_id,
            amount=from_minor(refund.amount, money),
            points_clawed_back=from_minor(refund.points_clawed_back, points),
            clawback_shortfall=from_minor(refund.clawback_shortfall, points),
            credit_returned=from_minor(refund.credit_returned, money),
            created_at=refund.created_at,
        )


@strawberry.type(description="A purchase, recorded once per store and external id.")
class Order(Node):
    uuid: str
    number: int = strawberry.field(description="Stable per-account integer id.")
    external_id: str
    store_uuid: str | None
    contact_uuid: str | None
    total: Decimal
    currency: str
    payment_type: str | None
    order_type: str | None
    status: OrderStatus
    completed_at: datetime | None
    refunded: Decimal = strawberry.field(description="The sum of its refunds.")
    points_earned: Decimal
    points_clawed_back: Decimal
    clawback_shortfall: Decimal
    credit_used: Decimal = strawberry.field(description="GLOBAL credit spent to pay it.")
    credit_returned: Decimal
    lines: JSON | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, order: OrderModel, principal: Principal) -> Order:
        money, points = principal.currency_precision, principal.points_precision
        return cls(
            uuid=order.uuid,
            number=order.number,
            external_id=order.external_id,
            store_uuid=order.store_uuid,
            contact_uuid=order.customer_uuid,
            total=from_minor(order.total, money),
            currency=order.currency,
            payment_type=order.payment_type,
            order_type=order.order_type,
            status=order.status,
            completed_at=order.completed_at,
            refunded=from_minor(order.refunded, money),
            points_earned=from_minor(order.points_earned, points),
            points_clawed_back=from_minor(order.points_clawed_back, points),
            clawback_shortfall=from_minor(order.clawback_shortfall, points),
            credit_used=from_minor(order.credit_paid, money),
            credit_returned=from_minor(order.credit_returned, money),
            lines=order.lines,  # type: ignore[arg-type]
            created_at=order.created_at,
            updated_at=order.updated_at,
        )

    @strawberry.field(description="Oldest first.")
    def refunds(self, info: Info[Context, None]) -> list[OrderRefund]:
        context = info.context
        found = context.refunds_by_order().load(self.uuid)
        return [OrderRefund.of(refund, context.principal) for refund in found]


def _orders(context: Context, found: list[OrderModel]) -> list[Order]:
    context.seen_orders.update(dict.fromkeys(order.uuid for order in found))
    return [Order.of(order, context.principal) for order in found]


# Account and Contact fields


def account_stores(
    info: Info[Context, None], limit: int | None = None, offset: int | None = None
) -> list[Store]:
    context = info.context
    found = store_service.list_stores(
        context.connection(), context.principal, limit=limit, offset=offset
    )
    return [Store.of(store) for store in found]


def account_orders(
    info: Info[Context, None],
    limit: int | None = None,
    offset: int | None = None,
    store_uuid: str | None = None,
) -> list[Order]:
    context = info.context
    found = order_service.list_orders(
        context.connection(), context.principal, limit=limit, offset=offset, store_uuid=store_uuid
    )
    return _orders(context, found)


def account_earning_rule(info: Info[Context, None]) -> Decimal | None:
    context = info.context
    return order_service.earning_rule(context.connection(), context.principal)


def contact_orders_count(root: HasUuid, info: Info[Context, None]) -> int:
    return info.context.order_stats_by_customer().load(root.uuid).orders_count


def contact_expenses(root: HasUuid, info: Info[Context, None]) -> Decimal:
    context = info.context
    expenses = context.order_stats_by_customer().load(root.uuid).expenses
    return from_minor(expenses, context.principal.currency_precision)


def contact_orders(
    root: HasUuid,
    info: Info[Context, None],
    limit: int | None = None,
    offset: int | None = None,
    store_uuid: str | None = None,
) -> list[Order]:
    size, start = check_page(limit, offset)
    context = info.context
    found = context.orders_by_customer(size, start, store_uuid).load(root.uuid)
    return [Order.of(order, context.principal) for order in found]


# Mutations


@strawberry.input
class StoreInput:
    name: str
    external_id: str | None = None
    points_multiplier: Decimal | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="Retrying with the same key returns the first result."
    )


@strawberry.input(description="The same store and externalId again is a replay or a completion.")
class RecordOrderInput:
    external_id: str
    total: Decimal
    currency: str
    status: OrderStatus = OrderStatus.COMPLETED
    contact_uuid: str | None = None
    store_uuid: str | None = None
    payment_type: str | None = None
    order_type: str | None = None
    completed_at: datetime | None = None
    lines: JSON | None = None
    credit_used: Decimal | None = strawberry.field(
        default=None, description="GLOBAL credit of the contact spent to pay the order."
    )


@strawberry.input(description="Applied once per externalId; amount left out refunds the rest.")
class RefundOrderInput:
    order_uuid: str
    external_id: str
    amount: Decimal | None = None


@strawberry.input
class EarningRuleInput:
    points_per_currency_unit: Decimal | None = strawberry.field(
        description="LOCAL points per unit of the account currency; null stops earning."
    )


@strawberry.type
class StoreResponse:
    success: bool
    store: Store | None = None
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OrderResponse:
    success: bool
    order: Order | None = None
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RefundOrderResponse:
    success: bool
    refund: OrderRefund | None = None
    order: Order | None = None
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class EarningRuleResponse:
    success: bool
    points_per_currency_unit: Decimal | None = None
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@domain_errors_as(StoreResponse)
def create_store(info: Info[Context, None], store: StoreInput) -> StoreResponse:
    context = info.context
    command = StoreCommand(
        name=store.name,
        external_id=store.external_id,
        points_multiplier=store.points_multiplier,
        idempotency_key=store.idempotency_key,
    )
    created = store_service.create_store(context.db, context.principal, command)
    return StoreResponse(success=True, store=Store.of(created))


@domain_errors_as(OrderResponse)
def record_order(info: Info[Context, None], order: RecordOrderInput) -> OrderResponse:
    context = info.context
    command = OrderCommand(
        external_id=order.external_id,
        total=order.total,
        currency=order.currency,
        customer_uuid=order.contact_uuid,
        store_uuid=order.store_uuid,
        payment_type=order.payment_type,
        order_type=order.order_type,
        status=order.status.value,
        completed_at=order.completed_at,
        lines=order.lines,
        credit_used=order.credit_used,
    )
    recorded = order_service.record_order(context.db, context.principal, command)
    return OrderResponse(success=True, order=Order.of(recorded, context.principal))


@domain_errors_as(RefundOrderResponse)
def refund_order(info: Info[Context, None], refund: RefundOrderInput) -> RefundOrderResponse:
    context = info.context
    command = RefundCommand(
        order_uuid=refund.order_uuid, external_id=refund.external_id, amount=refund.amount
    )
    result = order_service.refund_order(context.db, context.principal, command)
    return RefundOrderResponse(
        success=True,
        refund=OrderRefund.of(result.refund, context.principal),
        order=Order.of(result.order, context.principal),
    )


@domain_errors_as(EarningRuleResponse)
def set_earning_rule(info: Info[Context, None], rule: EarningRuleInput) -> EarningRuleResponse:
    """Admin scope: points per unit of the account currency for completed orders."""
    context = info.context
    rate = order_service.set_earning_rule(
        context.db, context.principal, rule.points_per_currency_unit
    )
    return EarningRuleResponse(success=True, points_per_currency_unit=rate)
