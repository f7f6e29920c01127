"""The dialect's schema: consumers, one consumer, its promotions and purchase history, the
auth mutations, and two merchant extensions (``updateConsumer``, ``setStampProgram``).

Names are the original's (graphene: camelCase, ``phoneNumber_Icontains``, ``consumer_Id``);
an empty-string filter means no filter, as django-filter reads it. Resolvers parse, call the
core and map; domain errors of queries become GraphQL errors in the shared executor.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from patron.accounts.principal import Principal
from patron.api.compat.loyaltydish import auth, ids
from patron.api.compat.loyaltydish.consumers_page import (
    IUserNodeConnection,
    consumers_connection,
    empty_as_none,
)
from patron.api.compat.loyaltydish.context import Caller, LoyaltydishContext
from patron.api.compat.loyaltydish.countries import UserCountry
from patron.api.compat.loyaltydish.errors import expected_errors
from patron.api.compat.loyaltydish.fast import TYPES
from patron.api.compat.loyaltydish.paging import Slice
from patron.api.compat.loyaltydish.types import (
    Context,
    CreditKind,
    DecimalStringScalar,
    ExpectedErrorType,
    ExpectedErrorTypeScalar,
    GenericScalar,
    GenericScalarScalar,
    IUserNode,
    JSONString,
    JSONStringScalar,
    Node,
    OrderNode,
    OrderNodeConnection,
    OrderNodeEdge,
    PromotionNode,
    PromotionNodeConnection,
    PromotionNodeEdge,
    RedemptionNode,
    StoreNode,
    UserEntitySource,
    UserGender,
    UserMerchantType,
)
from patron.api.graphql.fastpath import FastReads
from patron.api.graphql.fastpath.writes import FastWrites
from patron.api.graphql.limits import standard_extensions
from patron.core.errors import DomainError, Forbidden, InvalidInput, NotFound
from patron.core.money import from_minor
from patron.core.settings import Settings
from patron.customers.consumers import service as consumers
from patron.customers.consumers.models import ProfileChanges
from patron.customers.models import Customer, CustomerChanges
from patron.orders import service as order_service
from patron.orders.promotions import service as promotion_service
from patron.orders.stamps import service as stamp_service
from patron.orders.stamps.models import StampProgram, StampProgramCommand
from patron.redemptions import service as redemption_service
from patron.wallets import ledger

# Consumers


def _consumers(
    info: Context,
    loyalty_id: str | None = None,
    phone_number_icontains: Annotated[
        str | None, strawberry.argument(name="phoneNumber_Icontains")
    ] = None,
    email_icontains: Annotated[str | None, strawberry.argument(name="email_Icontains")] = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> IUserNodeConnection:
    return consumers_connection(
        info.context,
        loyalty_id=loyalty_id,
        phone_number_icontains=phone_number_icontains,
        email_icontains=email_icontains,
        first=first,
        after=after,
        last=last,
        before=before,
    )


def _consumer_by_id(context: LoyaltydishContext, value: str, field: str) -> Customer | None:
    number = ids.user_number(value, field=field)
    return consumers.consumer_by_number(context.connection(), context.reader(), number)


def _consumer(info: Context, id: strawberry.ID) -> IUserNode | None:
    found = _consumer_by_id(info.context, id, "id")
    return IUserNode.of(found) if found is not None else None


def _me(info: Context) -> IUserNode | None:
    context = info.context
    principal = context.reader()
    if principal.customer_uuid is None:
        return None
    found = consumers.customers_by_uuid(context.connection(), principal, [principal.customer_uuid])
    customer = found.get(principal.customer_uuid)
    return IUserNode.of(customer) if customer is not None else None


def _node(info: Context, id: strawberry.ID) -> Node | None:
    """Any object by the relay id this API handed out; null when the caller may not see it (a
    consumer sees itself, its own orders and codes only)."""
    context = info.context
    principal = context.reader()
    kind = ids.kind_of(id)
    if kind == ids.USER:
        return _consumer(info, id)
    if kind not in (ids.REDEMPTION, ids.ORDER, ids.PROMOTION, ids.STORE):
        raise InvalidInput(
            f"id '{id[:100]}' is not an id of this API (IUserNode, RedemptionNode, OrderNode, "
            "PromotionNode or StoreNode)",
            field="id",
        )
    uuid = ids.uuid_of(kind, id, field="id")
    if kind in (ids.REDEMPTION, ids.ORDER):
        return _owned_node(context, principal, kind, uuid)
    if principal.customer_uuid is not None:
        return None  # promotions and stores are the merchant's
    return _merchant_node(context, principal, kind, uuid)


def _owned_node(
    context: LoyaltydishContext, principal: Principal, kind: str, uuid: str
) -> Node | None:
    """A code or an order: a consumer's token sees its own only."""
    mine = principal.customer_uuid
    connection = context.connection()
    if kind == ids.REDEMPTION:
        codes = redemption_service.codes_by_uuids(connection, principal, [uuid])
        return next(
            (RedemptionNode.of(c, context) for c in codes if mine in (None, c.customer_uuid)),
            None,
        )
    found = order_service.orders_by_uuids(connection, principal, [uuid])
    return next((OrderNode.of(o, context) for o in found if mine in (None, o.customer_uuid)), None)


def _merchant_node(
    context: LoyaltydishContext, principal: Principal, kind: str, uuid: str
) -> Node | None:
    if kind == ids.PROMOTION:
        found = promotion_service.promotions_by_uuids(context.connection(), principal, [uuid])
        return next((PromotionNode.of(item, context) for item in found), None)
    store = context.stores().load(uuid)
    if store is None:
        return None
    return StoreNode(
        id=strawberry.ID(ids.encode(ids.STORE, store.uuid)),
        name=store.name,
        external_id=store.external_id,
    )


# Promotions and purchase history


def _promotions(
    info: Context,
    consumer_loyalty_id: str | None = None,
    consumer_email: str | None = None,
    consumer_phone_number: str | None = None,
    store_id: strawberry.ID | None = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> PromotionNodeConnection:
    context = info.context
    wanted = Slice.of(first, after, last, before)
    principal = context.reader()
    customer = consumers.find_consumer(
        context.connection(),
        principal,
        loyalty_id=empty_as_none(consumer_loyalty_id),
        email=empty_as_none(consumer_email),
        phone=empty_as_none(consumer_phone_number),
    )
    store = ids.uuid_of(ids.STORE, store_id, field="storeId") if store_id else None
    found = promotion_service.available_promotions(
        context.connection(), principal, customer.uuid, store_uuid=store
    )
    window = wanted.window(len(found))
    edges: list[PromotionNodeEdge | None] = [
        PromotionNodeEdge(
            node=PromotionNode.of(promotion, context), cursor=ids.offset_cursor(window.start + i)
        )
        for i, promotion in enumerate(found[window.start : window.end])
    ]
    return PromotionNodeConnection(
        page_info=window.page_info(), edges=edges, count=len(found), total_count=len(found)
    )


def _aware(moment: datetime | None) -> datetime | None:
    """A time without an offset is read as UTC (the original's server time zone)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _orders(
    info: Context,
    consumer_id: Annotated[strawberry.ID, strawberry.argument(name="consumer_Id")],
    store_id: Annotated[strawberry.ID | None, strawberry.argument(name="store_Id")] = None,
    completed_at_gte: Annotated[
        datetime | None, strawberry.argument(name="completedAt_Gte")
    ] = None,
    completed_at_lte: Annotated[
        datetime | None, strawberry.argument(name="completedAt_Lte")
    ] = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> OrderNodeConnection:
    context = info.context
    wanted = Slice.of(first, after, last, before)
    completed = (_aware(completed_at_gte), _aware(completed_at_lte))
    customer = _consumer_by_id(context, consumer_id, "consumer_Id")
    if customer is None:
        raise NotFound(f"no consumer with id '{consumer_id}'", field="consumer_Id")
    store = ids.uuid_of(ids.STORE, store_id, field="store_Id") if store_id else None
    principal = context.reader()
    total = order_service.count_orders_for_customers(
        context.connection(), principal, [customer.uuid], store_uuid=store, completed=completed
    )[customer.uuid]
    window = wanted.window(total)
    found = (
        order_service.orders_for_customers(
            context.connection(),
            principal,
            [customer.uuid],
            limit=window.size,
            offset=window.start,
            store_uuid=store,
            completed=completed,
        )[customer.uuid]
        if window.size
        else []
    )
    context.stores().expect(order.store_uuid for order in found if order.store_uuid)
    edges: list[OrderNodeEdge | None] = [
        OrderNodeEdge(node=OrderNode.of(order, context), cursor=ids.offset_cursor(window.start + i))
        for i, order in enumerate(found)
    ]
    return OrderNodeConnection(page_info=window.page_info(), edges=edges, total_count=total)


# The stamp program


@strawberry.type(description="A stamp per qualifying order; a reward code per full card.")
class StampProgramNode:
    stamps_required: int
    reward_credit_type: CreditKind
    reward_value: Decimal
    min_order_total: Decimal
    reward_expires_days: int | None

    @classmethod
    def of(cls, program: StampProgram, principal: Principal) -> StampProgramNode:
        places = ledger.precision(principal, program.reward_credit_type)
        return cls(
            stamps_required=program.stamps_required,
            reward_credit_type=CreditKind(program.reward_credit_type.value),
            reward_value=from_minor(program.reward_amount, places),
            min_order_total=from_minor(program.min_order_total, principal.currency_precision),
            reward_expires_days=program.reward_expires_days,
        )


def _stamp_program(info: Context) -> StampProgramNode | None:
    context = info.context
    principal = context.reader()
    program = stamp_service.stamp_program(context.connection(), principal)
    return StampProgramNode.of(program, principal) if program is not None else None


@strawberry.input
class StampProgramInput:
    stamps_required: int
    reward_credit_type: CreditKind
    reward_value: Decimal
    min_order_total: Decimal | None = None
    reward_expires_days: int | None = None


@strawberry.type
class SetStampProgram:
    success: bool
    errors: ExpectedErrorType | None = None
    stamp_program: StampProgramNode | None = None


def _merchant(context: LoyaltydishContext) -> Principal:
    principal = context.reader()
    if context.caller is not Caller.MERCHANT:
        raise Forbidden("only a merchant's API token can do this")
    return principal


def _set_stamp_program(info: Context, program: StampProgramInput | None = None) -> SetStampProgram:
    """Start or change the stamp program; null stops it. Needs an admin token."""
    context = info.context
    context.close()
    command = (
        StampProgramCommand(
            stamps_required=program.stamps_required,
            reward_credit_type=program.reward_credit_type.value,
            reward_value=program.reward_value,
            min_order_total=program.min_order_total,
            reward_expires_days=program.reward_expires_days,
        )
        if program is not None
        else None
    )
    try:
        principal = _merchant(context)
        saved = stamp_service.set_stamp_program(context.db, principal, command)
    except DomainError as error:
        return SetStampProgram(success=False, errors=ExpectedErrorType(expected_errors(error)))
    return SetStampProgram(
        success=True,
        stamp_program=StampProgramNode.of(saved, principal) if saved is not None else None,
    )


# Changing a consumer (merchants)


@strawberry.type
class UpdateConsumer:
    success: bool
    errors: ExpectedErrorType | None = None
    consumer: IUserNode | None = None


_UNSET: Any = strawberry.UNSET


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.value if hasattr(value, "value") and not isinstance(value, bool) else value
        for key, value in values.items()
        if value is not strawberry.UNSET
    }


def _update_consumer(
    info: Context,
    id: strawberry.ID,
    email: str | None = _UNSET,
    firstname: str | None = _UNSET,
    lastname: str | None = _UNSET,
    phone_number: str | None = _UNSET,
    birthday: date | None = _UNSET,
    gender: UserGender | None = _UNSET,
    country: UserCountry | None = _UNSET,
    city: str | None = _UNSET,
    street: str | None = _UNSET,
    zip_code: str | None = _UNSET,
    picture: str | None = _UNSET,
    loyalty_id: str | None = _UNSET,
    secondary_email: str | None = _UNSET,
    extra_info: JSONString | None = _UNSET,
    entity_source: UserEntitySource | None = _UNSET,
    entity_source_id: str | None = _UNSET,
    verified: bool | None = _UNSET,
    archived: bool | None = _UNSET,
    merchant_type: UserMerchantType | None = _UNSET,
    logo: str | None = _UNSET,
    num_of_order_discounts_allowed: int | None = _UNSET,
    staff: bool | None = _UNSET,
    admin: bool | None = _UNSET,
) -> UpdateConsumer:
    """Change the fields given of a consumer (the Customers object's fields)."""
    context = info.context
    profile = _given(
        {
            "email": email,
            "first_name": firstname,
            "last_name": lastname,
            "phone": phone_number,
            "birthday": birthday,
            "gender": gender,
            "country": country,
            "city": city,
            "address_line1": street,
            "postal_code": zip_code,
            "picture": picture,
            "loyalty_id": loyalty_id,
            "secondary_email": secondary_email,
            "extra_info": extra_info,
            "source": entity_source,
            "source_id": entity_source_id,
            "verified": verified,
            "archived": archived,
        }
    )
    extras = ProfileChanges(
        values=_given(
            {
                "merchant_type": merchant_type,
                "logo": logo,
                "order_discounts_allowed": num_of_order_discounts_allowed,
                "staff": staff,
                "admin": admin,
            }
        )
    )
    try:
        principal = _merchant(context)
        found = _consumer_by_id(context, id, "id")
        if found is None:
            raise NotFound(f"no consumer with id '{id}'", field="id")
        context.close()  # the command below is its own transaction
        updated = consumers.update_consumer(
            context.db, principal, found.uuid, CustomerChanges(profile=profile), extras
        )
    except DomainError as error:
        return UpdateConsumer(success=False, errors=ExpectedErrorType(expected_errors(error)))
    return UpdateConsumer(success=True, consumer=IUserNode.of(updated))


@strawberry.type
class Query:
    node: Node | None = strawberry.field(
        resolver=_node,
        description="The object with this relay id (a consumer, order, redemption code, "
        "promotion or store), or null.",
    )
    consumers: IUserNodeConnection = strawberry.field(
        resolver=_consumers,
        description="The account's consumers by pk (a consumer's token: itself only).",
    )
    consumer: IUserNode | None = strawberry.field(
        resolver=_consumer, description="A consumer by its IUserNode id; null when not found."
    )
    me: IUserNode | None = strawberry.field(
        resolver=_me, description="The consumer of the access token (null for merchants)."
    )
    consumer_available_promotions: PromotionNodeConnection = strawberry.field(
        resolver=_promotions,
        description="The promotions a consumer (named by loyalty id, email or phone number; "
        "a consumer's token: itself) qualifies for now, at storeId when given.",
    )
    orders: OrderNodeConnection = strawberry.field(
        resolver=_orders,
        description="A consumer's orders, newest first (purchase history); completedAt_Gte / "
        "completedAt_Lte keep those completed at or after / at or before a time (a time without "
        "an offset is UTC).",
    )
    stamp_program: StampProgramNode | None = strawberry.field(
        resolver=_stamp_program, description="The account's stamp program, if it runs one."
    )


@strawberry.type
class Mutation:
    register: auth.Register = strawberry.mutation(resolver=auth.register)
    obtain_token: auth.ObtainJSONWebToken = strawberry.mutation(resolver=auth.obtain_token)
    sign_in: auth.ObtainJSONWebToken = strawberry.mutation(
        resolver=auth.obtain_token, description="obtainToken under its other name."
    )
    refresh_token: auth.RefreshToken = strawberry.mutation(resolver=auth.refresh_token)
    verify_token: auth.VerifyToken = strawberry.mutation(resolver=auth.verify_token)
    revoke_token: auth.RevokeToken = strawberry.mutation(resolver=auth.revoke_token)
    update_consumer: UpdateConsumer = strawberry.mutation(resolver=_update_consumer)
    set_stamp_program: SetStampProgram = strawberry.mutation(resolver=_set_stamp_program)


class LoyaltydishSchema(strawberry.Schema):
    fast_reads: FastReads | None = None
    fast_writes: FastWrites | None = None

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Client errors are answers, not incidents; unexpected ones are logged by the executor."""


def build_schema(settings: Settings) -> LoyaltydishSchema:
    fast_reads = FastReads(TYPES, cache_size=256) if settings.fast_reads else None
    extensions = standard_extensions(settings, cache_size=256)
    if fast_reads is not None:
        extensions.append(fast_reads.extension())
    fast_writes = FastWrites(cache_size=256) if settings.fast_writes else None
    if fast_writes is not None:
        extensions.append(fast_writes.extension())
    schema = LoyaltydishSchema(
        query=Query,
        mutation=Mutation,
        types=[Node],
        scalar_overrides={Decimal: DecimalStringScalar},
        config=StrawberryConfig(
            auto_camel_case=True,
            scalar_map={
                JSONString: JSONStringScalar,
                GenericScalar: GenericScalarScalar,
                ExpectedErrorType: ExpectedErrorTypeScalar,
            },
        ),
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
