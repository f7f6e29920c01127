"""The dialect's schema: ``customers``, ``node``, ``createCustomer``, ``updateCustomer``.

Names are Lightfunnels' own (snake_case fields, ``pageInfo``); resolvers parse, call one core
function and map the result. Domain errors become GraphQL errors in the shared executor.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NewType

import strawberry
from graphql import GraphQLError, IntValueNode, StringValueNode, ValueNode
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info

from patron.api.compat.lightfunnels.cursors import (
    decode_id,
    encode_id,
    encode_node_id,
)
from patron.api.compat.lightfunnels.fast import TYPES
from patron.api.compat.lightfunnels.leniency import PAGE_SIZE, Leniency
from patron.api.compat.lightfunnels.pages import (
    avatar_url,
    customers_page,
    location_of,
    page_size_value,
)
from patron.api.compat.lightfunnels.timestamps import formatted
from patron.api.graphql.context import Context as RequestContext
from patron.api.graphql.fastpath import FastReads
from patron.api.graphql.fastpath.writes import FastWrites
from patron.api.graphql.limits import standard_extensions
from patron.api.graphql.scalars import DecimalScalar
from patron.core.clock import utcnow
from patron.core.errors import InvalidInput, NotFound
from patron.core.money import from_minor
from patron.core.settings import Settings
from patron.customers import search
from patron.customers import service as customer_service
from patron.customers.models import Customer as CustomerModel
from patron.customers.models import CustomerChanges, NewCustomer
from patron.orders.models import Order as OrderModel
from patron.privacy import service as privacy

MAX_ORDERS = 250

PageSize = NewType("PageSize", object)


def _page_size_literal(node: ValueNode, _variables: Any = None) -> Any:
    if isinstance(node, IntValueNode | StringValueNode):
        return page_size_value(node.value if isinstance(node, StringValueNode) else int(node.value))
    raise ValueError("first must be a whole number")


PageSizeScalar = strawberry.scalar(
    name=PAGE_SIZE,
    description='A number of items: an Int, or a String of digits ("10").',
    serialize=int,
    parse_value=page_size_value,
    parse_literal=_page_size_literal,
)


Context = Info[RequestContext, None]


@strawberry.interface(description="An object with a global id.")
class Node:
    id: strawberry.ID


@strawberry.type(
    description="A postal address. Patron keeps one address per customer: shipping_address and "
    "billing_address both answer it (with the customer's name, email and phone)."
)
class Address:
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    line1: str | None
    line2: str | None
    city: str | None
    area: str | None = strawberry.field(description="Always null: Patron keeps no area.")
    state: str | None
    zip: str | None
    country: str | None

    @classmethod
    def of(cls, customer: CustomerModel) -> Address | None:
        parts = (
            customer.address_line1,
            customer.address_line2,
            customer.city,
            customer.region,
            customer.postal_code,
            customer.country,
        )
        if not any(parts):
            return None
        return cls(
            first_name=customer.first_name,
            last_name=customer.last_name,
            email=customer.email,
            phone=customer.phone,
            line1=customer.address_line1,
            line2=customer.address_line2,
            city=customer.city,
            area=None,
            state=customer.region,
            zip=customer.postal_code,
            country=customer.country,
        )


@strawberry.type(description="An order the customer placed.")
class Order:
    id: strawberry.ID = strawberry.field(description="base64 of 'Order:<number>'.")
    number: int = strawberry.field(name="_id", description="The per-account order number.")
    name: str = strawberry.field(description="The order's id at the shop (its external id).")
    total: Decimal
    refunded: Decimal
    currency: str
    status: str = strawberry.field(description="PENDING, COMPLETED or CANCELLED.")
    model: strawberry.Private[OrderModel]

    @classmethod
    def of(cls, order: OrderModel, places: int) -> Order:
        return cls(
            id=strawberry.ID(encode_node_id("Order", order.number)),
            number=order.number,
            name=order.external_id,
            total=from_minor(order.total, places),
            refunded=from_minor(order.refunded, places),
            currency=order.currency,
            status=order.status.value,
            model=order,
        )

    @strawberry.field(description='Relative ("an hour ago") unless a format is given.')
    def created_at(self, format: str | None = None) -> str:
        return formatted(self.model.created_at, utcnow(), format)


@strawberry.type(description="A person who buys.")
class Customer(Node):
    id: strawberry.ID
    number: int = strawberry.field(name="_id", description="The per-account customer number.")
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    full_name: str | None
    avatar: str = strawberry.field(description="Gravatar URL of the email.")
    accepts_marketing: bool
    notes: str | None
    location: str | None
    model: strawberry.Private[CustomerModel]

    @classmethod
    def of(cls, customer: CustomerModel) -> Customer:
        return cls(
            id=strawberry.ID(encode_id(customer.number)),
            number=customer.number,
            email=customer.email,
            phone=customer.phone,
            first_name=customer.first_name,
            last_name=customer.last_name,
            full_name=customer.display_name,
            avatar=avatar_url(customer.email),
            accepts_marketing=customer.accepts_marketing,
            notes=customer.notes,
            location=location_of(customer),
            model=customer,
        )

    @strawberry.field(description="Completed orders' totals less refunds, in the account currency.")
    def expenses(self, info: Context) -> Decimal:
        totals = info.context.order_stats_by_customer().load(self.model.uuid)
        return from_minor(totals.expenses, info.context.principal.currency_precision)

    @strawberry.field(description="Newest first; first 1 to 250 (default 25).")
    def orders(self, info: Context, first: PageSize | None = None) -> list[Order]:
        size = 25 if first is None else page_size_value(first)
        if not 1 <= size <= MAX_ORDERS:
            raise InvalidInput(f"first must be 1 to {MAX_ORDERS}, got {size}", field="first")
        context = info.context
        found = context.orders_by_customer(size, 0, None).load(self.model.uuid)
        return [Order.of(order, context.principal.currency_precision) for order in found]

    @strawberry.field(description="The customer's address (Patron keeps one).")
    def shipping_address(self) -> Address | None:
        return Address.of(self.model)

    @strawberry.field(description="The customer's address (Patron keeps one).")
    def billing_address(self) -> Address | None:
        return Address.of(self.model)

    @strawberry.field(description="How many completed orders the customer has.")
    def orders_count(self, info: Context) -> int:
        return info.context.order_stats_by_customer().load(self.model.uuid).orders_count

    @strawberry.field(description='Relative ("an hour ago") unless a format is given.')
    def created_at(self, format: str | None = None) -> str:
        return formatted(self.model.created_at, utcnow(), format)

    @strawberry.field(description='Relative ("an hour ago") unless a format is given.')
    def updated_at(self, format: str | None = None) -> str:
        return formatted(self.model.updated_at, utcnow(), format)


@strawberry.type
class CustomerEdge:
    node: Customer
    cursor: str


@strawberry.type
class PageInfo:
    end_cursor: str | None = strawberry.field(name="endCursor")
    has_next_page: bool = strawberry.field(name="hasNextPage")
    start_cursor: str | None = strawberry.field(name="startCursor")
    has_previous_page: bool = strawberry.field(name="hasPreviousPage")


@strawberry.type
class CustomerConnection:
    edges: list[CustomerEdge]
    page_info: PageInfo = strawberry.field(name="pageInfo")


@strawberry.type
class Query:
    @strawberry.field(
        description="A page of customers. query: 'order_by:<field> order_dir:asc|desc', words "
        "(name, email, phone) and field:value terms. first: default 25, at most 250."
    )
    def customers(
        self,
        info: Context,
        query: str,
        first: PageSize | None = None,
        after: str | None = None,
    ) -> CustomerConnection:
        page = customers_page(info.context, query, first, after)
        edges = [
            CustomerEdge(node=Customer.of(customer), cursor=cursor)
            for customer, cursor in zip(page.customers, page.cursors, strict=True)
        ]
        return CustomerConnection(
            edges=edges,
            page_info=PageInfo(
                end_cursor=page.end_cursor,
                has_next_page=page.has_next,
                start_cursor=page.start_cursor,
                has_previous_page=page.has_previous,
            ),
        )

    @strawberry.field(description="The object with this global id, or null.")
    def node(self, info: Context, id: strawberry.ID) -> Node | None:
        number = decode_id(id)
        context = info.context
        found = search.customer_by_number(context.connection(), context.principal, number)
        return Customer.of(found) if found else None


@strawberry.input(description="A new customer.")
class InputCustomer:
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    accepts_marketing: bool | None = None
    notes: str | None = None


@strawberry.input(description='Only the fields given change; null or "" clears one.')
class InputUpdateCustomer:
    email: str | None = strawberry.UNSET
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    accepts_marketing: bool | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET


# Lightfunnels input field -> core profile field; their names agree.
_PROFILE = ("email", "first_name", "last_name", "phone", "accepts_marketing", "notes")


def _profile(node: InputCustomer | InputUpdateCustomer) -> dict[str, Any]:
    """The fields given; an empty string means no value, as Lightfunnels' forms send it."""
    profile: dict[str, Any] = {}
    for name in _PROFILE:
        value = getattr(node, name)
        if value is strawberry.UNSET:
            continue
        profile[name] = None if isinstance(value, str) and not value.strip() else value
    return profile


def _customer_uuid(context: RequestContext, id: str) -> str:
    number = decode_id(id)
    found = search.customer_by_number(context.connection(), context.principal, number)
    if found is None:
        raise NotFound(f"no customer with id '{id}'", field="id")
    return found.uuid


@strawberry.type
class Mutation:
    @strawberry.mutation(name="createCustomer", description="Create a customer (with its wallet).")
    def create_customer(self, info: Context, node: InputCustomer) -> Customer:
        profile = {key: value for key, value in _profile(node).items() if value is not None}
        created = customer_service.create_customer(
            info.context.db, info.context.principal, NewCustomer(profile=profile)
        )
        return Customer.of(created.customer)

    @strawberry.mutation(name="updateCustomer", description="Change the fields given.")
    def update_customer(
        self,
        info: Context,
        node: InputUpdateCustomer,
        id: strawberry.ID,
    ) -> Customer:
        context = info.context
        customer_uuid = _customer_uuid(context, id)
        context.close()  # the write below is its own transaction
        updated = customer_service.update_customer(
            context.db,
            context.principal,
            customer_uuid,
            CustomerChanges(profile=_profile(node)),
        )
        return Customer.of(updated)

    @strawberry.mutation(
        name="deleteCustomer",
        description="Delete a customer without ledger history; one with history is erased "
        "instead (personal data removed for good, the ledger kept; admin scope). True when done.",
    )
    def delete_customer(self, info: Context, id: strawberry.ID) -> bool:
        context = info.context
        customer_uuid = _customer_uuid(context, id)
        context.close()  # the write below is its own transaction
        _remove(context, customer_uuid)
        return True


def _remove(context: RequestContext, customer_uuid: str) -> None:
    """The one place this dialect removes a customer: the native API's rule for a delete."""
    privacy.remove_or_erase(context.db, context.principal, customer_uuid)


class LightfunnelsSchema(strawberry.Schema):
    fast_reads: FastReads | None = None
    fast_writes: FastWrites | None = None

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Client errors are answers, not incidents; unexpected ones are logged by the executor."""


def build_schema(settings: Settings) -> LightfunnelsSchema:
    fast_reads = FastReads(TYPES, cache_size=256) if settings.fast_reads else None
    extensions = [Leniency, *standard_extensions(settings, cache_size=256)]
    if fast_reads is not None:
        extensions.append(fast_reads.extension())
    fast_writes = FastWrites(cache_size=256) if settings.fast_writes else None
    if fast_writes is not None:
        extensions.append(fast_writes.extension())
    schema = LightfunnelsSchema(
        query=Query,
        mutation=Mutation,
        types=[Customer],
        scalar_overrides={Decimal: DecimalScalar},
        config=StrawberryConfig(auto_camel_case=False, scalar_map={PageSize: PageSizeScalar}),
        extensions=extensions,
    )
    if fast_reads is not None:
        fast_reads.bind(schema._schema)
        schema.fast_reads = fast_reads
    if fast_writes is not None:
        fast_writes.bind(schema)
        schema.fast_writes = fast_writes
    return schema


def printed_schema(settings: Settings | None = None) -> str:
    return build_schema(settings or Settings()).as_str() + "\n"
