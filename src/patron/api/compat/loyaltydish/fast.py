"""LoyaltyDish ``consumers`` pages answered by the fast path: its fields, column-wise.

The page is made by the same function as the resolver's (:func:`.schema.consumers_connection`)
and its nodes by ``IUserNode.of``; the fast path reads their fields as the executor would,
and answers ``pointsEarned`` for the whole page from the wallet loader at once. Any other
field sends the request to the normal executor. The differential tests hold both to the
same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from strawberry.utils.str_converters import to_camel_case

from patron.accounts.principal import Principal
from patron.api.compat.loyaltydish.consumers_page import IUserNodeConnection, consumers_connection
from patron.api.compat.loyaltydish.context import LoyaltydishContext
from patron.api.compat.loyaltydish.types import USER_NODE_VALUES
from patron.api.graphql.context import Context
from patron.api.graphql.fastpath.fields import Field, Types
from patron.customers.consumers import service as consumers
from patron.customers.models import Customer
from patron.wallets.models import CreditType


def _consumers(request: Context, sources: list[Any], args: dict[str, Any]) -> list[Any]:
    context = _dialect(request)
    return [
        consumers_connection(
            context,
            loyalty_id=args.get("loyaltyId"),
            phone_number_icontains=args.get("phoneNumber_Icontains"),
            email_icontains=args.get("email_Icontains"),
            first=args.get("first"),
            after=args.get("after"),
            last=args.get("last"),
            before=args.get("before"),
            node=_itself,
        )
        for _ in sources
    ]


def _itself(customer: Customer) -> Customer:
    """A page's node as the fast path keeps it: its customer (``USER_NODE_VALUES`` read the
    fields a document selects, ``IUserNode.of`` would make them all)."""
    return customer


def _items(name: str, type_name: str) -> Field:
    read = attrgetter(name)

    def resolve(_context: Any, sources: list[Any], _args: dict[str, Any]) -> list[Any]:
        return [read(source) for source in sources]

    return Field(resolve=resolve, type_name=type_name)


def _dialect(context: Context) -> LoyaltydishContext:
    assert isinstance(context, LoyaltydishContext)  # this schema runs with its own context
    return context


def _total_count(
    request: Context, pages: list[IUserNodeConnection], _args: dict[str, Any]
) -> list[Any]:
    context = _dialect(request)
    return [
        consumers.count_consumers(context.connection(), context.reader(), page.query)
        for page in pages
    ]


def _points_earned(request: Context, nodes: list[Customer], _args: dict[str, Any]) -> list[Any]:
    context = _dialect(request)
    loader = context.points_earned()
    unit = int(10**context.principal.points_precision)
    return [loader.load(customer.uuid) // unit for customer in nodes]


def _points_balance(request: Context, nodes: list[Customer], _args: dict[str, Any]) -> list[Any]:
    context = _dialect(request)
    loader = context.wallet_by_customer()
    unit = int(10**context.principal.points_precision)
    points = []
    for customer in nodes:
        wallet = loader.load(customer.uuid)
        points.append(None if wallet is None else wallet.available(CreditType.LOCAL) // unit)
    return points


def _node_field(value: Callable[[Customer], Any]) -> Field:
    def get(customer: Customer, _principal: Principal) -> Any:
        return value(customer)

    return Field(get=get)


TYPES: Types = {
    "Query": {"consumers": Field(resolve=_consumers, type_name="IUserNodeConnection")},
    "IUserNodeConnection": {
        "edges": _items("edges", "IUserNodeEdge"),
        "pageInfo": _items("page_info", "PageInfo"),
        "totalCount": Field(resolve=_total_count),
    },
    "IUserNodeEdge": {
        "node": _items("node", "IUserNode"),
        "cursor": Field(attribute=attrgetter("cursor")),
    },
    "PageInfo": {
        "hasNextPage": Field(attribute=attrgetter("has_next_page")),
        "hasPreviousPage": Field(attribute=attrgetter("has_previous_page")),
        "startCursor": Field(attribute=attrgetter("start_cursor")),
        "endCursor": Field(attribute=attrgetter("end_cursor")),
    },
    "IUserNode": {
        # IUserNode's plain fields, as Strawberry names them (camel case of the Python name).
        **{to_camel_case(name): _node_field(value) for name, value in USER_NODE_VALUES.items()},
        "pointsEarned": Field(resolve=_points_earned),
        "pointsBalance": Field(resolve=_points_balance),
    },
}
