"""The ``consumers`` page: made once here for the resolver and for the fast path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry

from patron.api.compat.loyaltydish import ids
from patron.api.compat.loyaltydish.context import LoyaltydishContext
from patron.api.compat.loyaltydish.paging import PageInfo
from patron.api.compat.loyaltydish.types import Context, IUserNode, IUserNodeEdge
from patron.customers.consumers import service as consumers
from patron.customers.consumers.models import ConsumerQuery
from patron.customers.models import Customer


def empty_as_none(value: str | None) -> str | None:
    """django-filter ignores an empty filter value: so does the dialect."""
    return value if value else None


@strawberry.type
class IUserNodeConnection:
    page_info: PageInfo
    edges: list[IUserNodeEdge | None]
    query: strawberry.Private[ConsumerQuery]

    @strawberry.field(description="How many consumers the filters match.")
    def total_count(self, info: Context) -> int | None:
        context = info.context
        return consumers.count_consumers(context.connection(), context.reader(), self.query)


def consumers_connection(
    context: LoyaltydishContext,
    *,
    loyalty_id: str | None = None,
    phone_number_icontains: str | None = None,
    email_icontains: str | None = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    node: Callable[[Customer], Any] = IUserNode.of,
) -> IUserNodeConnection:
    """The consumers page as the resolver and the fast path both answer it. ``node`` makes
    each edge's node (the fast path keeps the customer, and reads only the fields asked)."""
    query = ConsumerQuery(
        loyalty_id=empty_as_none(loyalty_id),
        phone_contains=empty_as_none(phone_number_icontains),
        email_contains=empty_as_none(email_icontains),
        first=first,
        last=last,
        after=ids.user_cursor_number(after, field="after") if after else None,
        before=ids.user_cursor_number(before, field="before") if before else None,
    )
    page = consumers.find_consumers(context.connection(), context.reader(), query)
    uuids = [customer.uuid for customer in page.customers]
    context.wallet_by_customer().expect(uuids)
    context.profiles().expect(uuids)
    context.stamp_cards().expect(uuids)
    context.points_earned().expect(uuids)
    edges: list[IUserNodeEdge | None] = [
        IUserNodeEdge(node=node(customer), cursor=ids.user_cursor(customer.number))
        for customer in page.customers
    ]
    numbers = [customer.number for customer in page.customers]
    return IUserNodeConnection(
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=ids.user_cursor(numbers[0]) if numbers else None,
            end_cursor=ids.user_cursor(numbers[-1]) if numbers else None,
        ),
        edges=edges,
        query=query,
    )
