"""A page of Lightfunnels customers and the values of a customer's derived fields, made once
here for the resolvers and for the fast path."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from patron.api.compat.lightfunnels.cursors import decode_cursor, encode_cursor
from patron.api.compat.lightfunnels.query import parse_query
from patron.api.graphql.context import Context as RequestContext
from patron.core.errors import InvalidInput
from patron.core.paging import MAX_PAGE
from patron.customers import search
from patron.customers.models import Customer as CustomerModel

DEFAULT_PAGE = 25
GRAVATAR = "//www.gravatar.com/avatar/"


def page_size_value(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    raise ValueError("first must be a whole number")


def location_of(customer: CustomerModel) -> str | None:
    parts = [part for part in (customer.city, customer.region, customer.country) if part]
    return ", ".join(parts) or None


def avatar_url(email: str | None) -> str:
    digest = hashlib.md5((email or "").strip().lower().encode(), usedforsecurity=False)
    return GRAVATAR + digest.hexdigest()


def _page_size(first: Any) -> int:
    size = DEFAULT_PAGE if first is None else page_size_value(first)
    if not 1 <= size <= MAX_PAGE:
        raise InvalidInput(f"first must be between 1 and {MAX_PAGE}, got {size}", field="first")
    return size


@dataclass(frozen=True, slots=True)
class CustomersPage:
    """One page of ``customers``, as both the resolver and the fast path read it."""

    customers: list[CustomerModel]
    cursors: list[str]
    has_next: bool
    has_previous: bool

    @property
    def start_cursor(self) -> str | None:
        return self.cursors[0] if self.cursors else None

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None


def customers_page(
    context: RequestContext, query: str, first: Any, after: str | None
) -> CustomersPage:
    try:
        size = _page_size(first)
    except ValueError as error:
        raise InvalidInput(str(error), field="first") from None
    parsed = parse_query(query)
    position = decode_cursor(after, parsed.order_by)
    page = search.search_customers(
        context.connection(),
        context.principal,
        search.CustomerSearch(
            order_by=parsed.order_by,
            descending=parsed.descending,
            words=parsed.words,
            terms=parsed.terms,
            after=position,
            limit=size,
        ),
    )
    context.seen_contacts.update(dict.fromkeys(customer.uuid for customer in page.customers))
    return CustomersPage(
        customers=page.customers,
        cursors=[encode_cursor(key) for key in page.keys],
        has_next=page.has_next,
        has_previous=position is not None,
    )
