"""The Lightfunnels ``customers`` page answered by the fast path: its fields, column-wise.

Each getter reads what the dialect's Strawberry type would hold (``Customer.of`` and its
resolvers in :mod:`.schema`), so both paths write the same bytes; the differential tests
hold them to it. Any other field of the schema sends the request to the normal executor.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from patron.accounts.principal import Principal
from patron.api.compat.lightfunnels.cursors import encode_id
from patron.api.compat.lightfunnels.pages import (
    CustomersPage,
    avatar_url,
    customers_page,
    location_of,
)
from patron.api.compat.lightfunnels.timestamps import formatted
from patron.api.graphql.context import Context
from patron.api.graphql.fastpath.fields import Field, Types
from patron.core.clock import utcnow
from patron.core.money import from_minor
from patron.customers.models import Customer


def _customers(context: Context, sources: list[Any], args: dict[str, Any]) -> list[Any]:
    return [
        customers_page(context, args["query"], args.get("first"), args.get("after"))
        for _ in sources
    ]


def _edges(_context: Context, pages: list[CustomersPage], _args: dict[str, Any]) -> list[Any]:
    return [list(zip(page.customers, page.cursors, strict=True)) for page in pages]


def _page_info(_context: Context, pages: list[CustomersPage], _args: dict[str, Any]) -> list[Any]:
    return pages


def _node(_context: Context, edges: list[tuple[Customer, str]], _args: dict[str, Any]) -> list[Any]:
    return [customer for customer, _cursor in edges]


def _expenses(context: Context, customers: list[Customer], _args: dict[str, Any]) -> list[Any]:
    loader = context.order_stats_by_customer()
    places = context.principal.currency_precision
    return [from_minor(loader.load(customer.uuid).expenses, places) for customer in customers]


def _orders_count(context: Context, customers: list[Customer], _args: dict[str, Any]) -> list[Any]:
    loader = context.order_stats_by_customer()
    return [loader.load(customer.uuid).orders_count for customer in customers]


def _timestamp(name: str) -> Field:
    read = attrgetter(name)

    def resolve(_context: Context, customers: list[Customer], args: dict[str, Any]) -> list[Any]:
        now, format_ = utcnow(), args.get("format")
        return [formatted(read(customer), now, format_) for customer in customers]

    return Field(resolve=resolve)


def _get(read: Any) -> Field:
    def get(customer: Customer, _principal: Principal) -> Any:
        return read(customer)

    return Field(get=get)


CUSTOMER: dict[str, Field] = {
    "id": _get(lambda customer: encode_id(customer.number)),
    "_id": Field(attribute=attrgetter("number")),
    "email": Field(attribute=attrgetter("email")),
    "phone": Field(attribute=attrgetter("phone")),
    "first_name": Field(attribute=attrgetter("first_name")),
    "last_name": Field(attribute=attrgetter("last_name")),
    "full_name": Field(attribute=attrgetter("display_name")),
    "avatar": _get(lambda customer: avatar_url(customer.email)),
    "accepts_marketing": Field(attribute=attrgetter("accepts_marketing")),
    "notes": Field(attribute=attrgetter("notes")),
    "location": _get(location_of),
    "expenses": Field(resolve=_expenses),
    "orders_count": Field(resolve=_orders_count),
    "created_at": _timestamp("created_at"),
    "updated_at": _timestamp("updated_at"),
}

TYPES: Types = {
    "Query": {"customers": Field(resolve=_customers, type_name="CustomerConnection")},
    "CustomerConnection": {
        "edges": Field(resolve=_edges, type_name="CustomerEdge"),
        "pageInfo": Field(resolve=_page_info, type_name="PageInfo"),
    },
    "CustomerEdge": {
        "node": Field(resolve=_node, type_name="Customer"),
        "cursor": _get(lambda edge: edge[1]),
    },
    "PageInfo": {
        "endCursor": Field(attribute=attrgetter("end_cursor")),
        "hasNextPage": Field(attribute=attrgetter("has_next")),
        "startCursor": Field(attribute=attrgetter("start_cursor")),
        "hasPreviousPage": Field(attribute=attrgetter("has_previous")),
    },
    "Customer": CUSTOMER,
}
