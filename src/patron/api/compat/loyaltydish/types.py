"""The dialect's object types: consumers (``IUserNode``), redemptions, orders, promotions.

Every field maps a core value; lists are relay connections. Nested lists of a page of
consumers are fetched per page (batch loaders), not per consumer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NewType

import orjson
import strawberry
from strawberry.types import Info

from patron.api.compat.loyaltydish import ids
from patron.api.compat.loyaltydish.context import LoyaltydishContext
from patron.api.compat.loyaltydish.countries import COUNTRY_CODES, UserCountry
from patron.api.compat.loyaltydish.paging import PageInfo, Slice
from patron.api.enums import renamed
from patron.core.money import from_minor
from patron.customers.consumers import service as consumers
from patron.customers.consumers.models import MerchantType
from patron.customers.models import Customer, Gender, Source, UserType
from patron.orders.models import Order
from patron.orders.promotions.models import Promotion, Reward
from patron.redemptions import codes as redemption_codes
from patron.redemptions import service as redemption_service
from patron.redemptions.models import SOURCE_STAMPS, CodeFilter, Redemption
from patron.redemptions.models import RedemptionStatus as RedemptionStatusModel
from patron.wallets import ledger
from patron.wallets.models import CreditType

Context = Info[LoyaltydishContext, None]

# Scalars named as the original's graphene schema names them.
JSONString = NewType("JSONString", object)
GenericScalar = NewType("GenericScalar", object)
ExpectedErrorType = NewType("ExpectedErrorType", object)


def _json_string_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:  # also what nests deeper than orjson reads
            raise ValueError("a JSONString must hold JSON text") from None
    return value


JSONStringScalar = strawberry.scalar(
    name="JSONString",
    description="A JSON value written as a string of JSON text.",
    serialize=lambda value: json.dumps(value, separators=(", ", ": ")),
    parse_value=_json_string_value,
)
GenericScalarScalar = strawberry.scalar(
    name="GenericScalar",
    description="Any JSON value: an object, a list, a string, a number or a boolean.",
    serialize=lambda value: value,
    parse_value=lambda value: value,
)
ExpectedErrorTypeScalar = strawberry.scalar(
    name="ExpectedErrorType",
    description='Errors by field: {"email": [{"message": "...", "code": "..."}]}; '
    '"nonFieldErrors" holds the ones of no single field.',
    serialize=lambda value: value,
    parse_value=lambda value: value,
)
DecimalStringScalar = strawberry.scalar(
    name="Decimal",
    description="An exact decimal number, written as a string (graphene's Decimal).",
    serialize=lambda value: format(value, "f"),
    parse_value=lambda value: value,
)


# The customers' enums, declared once in customers/, under the names this dialect gives them.
strawberry.enum(UserType, name="UserUserType", description="What kind of user a person is.")
UserUserType = UserType
strawberry.enum(
    MerchantType, name="UserMerchantType", description="The kind of business of a MERCHANT user."
)
UserMerchantType = MerchantType
strawberry.enum(
    Source,
    name="UserEntitySource",
    description="Where a customer came from; OTHER for any other source.",
)
UserEntitySource = Source


strawberry.enum(UserCountry, description="ISO 3166-1 alpha-2 country code.")

_ENTITY_SOURCES = {member.value for member in UserEntitySource}


# The domain's enums, described here otherwise than on the native API (see patron.api.enums).
if TYPE_CHECKING:
    UserGender = Gender
    RedemptionStatus = RedemptionStatusModel
    CreditKind = CreditType
    PromotionReward = Reward
else:
    UserGender = renamed(Gender, name="UserGender")
    RedemptionStatus = renamed(
        RedemptionStatusModel,
        name="RedemptionStatus",
        description="ACTIVE codes hold their amount until redeemed.",
    )
    CreditKind = renamed(
        CreditType,
        name="CreditKind",
        description="GLOBAL is store credit (money), LOCAL loyalty points.",
    )
    PromotionReward = renamed(Reward, name="PromotionReward")


def entity_source(source: str | None) -> UserEntitySource | None:
    if not source:
        return None
    name = "".join(char if char.isalnum() else "_" for char in source.strip().upper())
    return UserEntitySource(name) if name in _ENTITY_SOURCES else UserEntitySource.OTHER


def _address(customer: Customer) -> str | None:
    parts = (
        customer.address_line1,
        customer.address_line2,
        customer.city,
        customer.region,
        customer.postal_code,
        customer.country,
    )
    return ", ".join(part for part in parts if part) or None


@strawberry.interface(description="An object with an ID.")
class Node:
    id: strawberry.ID = strawberry.field(description="The ID of the object.")


@strawberry.type(description="A store where orders are placed.")
class StoreNode(Node):
    id: strawberry.ID
    name: str
    external_id: str | None


@strawberry.type(description="A redemption code: credit held for the consumer until used.")
class RedemptionNode(Node):
    id: strawberry.ID
    code: str = strawberry.field(description="As printed for the customer.")
    status: RedemptionStatus
    credit_type: CreditKind
    amount: Decimal = strawberry.field(description="Money for GLOBAL, points for LOCAL.")
    source: str = strawberry.field(description="MANUAL, STAMPS (a full stamp card), ...")
    note: str | None
    expires_at: datetime | None
    redeemed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, redemption: Redemption, context: LoyaltydishContext) -> RedemptionNode:
        return cls(
            id=strawberry.ID(ids.encode(ids.REDEMPTION, redemption.uuid)),
            code=redemption_codes.display(redemption.code),
            status=RedemptionStatus(redemption.status.value),
            credit_type=CreditKind(redemption.credit_type.value),
            amount=redemption_service.reward_value(context.principal, redemption),
            source=redemption.source,
            note=redemption.note,
            expires_at=redemption.expires_at,
            redeemed_at=redemption.redeemed_at,
            created_at=redemption.created_at,
            updated_at=redemption.updated_at,
        )


@strawberry.type
class RedemptionNodeEdge:
    node: RedemptionNode | None
    cursor: str


@strawberry.type
class RedemptionNodeConnection:
    page_info: PageInfo
    edges: list[RedemptionNodeEdge | None]
    total_count: int | None


# The three redemption lists of a consumer, as filters on its wallet's codes.
_ALL = CodeFilter()
_STAMPS = CodeFilter(source=SOURCE_STAMPS)
_POINTS = CodeFilter(not_source=SOURCE_STAMPS, credit_type=CreditType.LOCAL.value)
_FILTERS = {"all": _ALL, "stamps": _STAMPS, "points": _POINTS}


def _user_id(customer: Customer) -> strawberry.ID:
    return strawberry.ID(ids.encode(ids.USER, customer.number))


def _gender(customer: Customer) -> UserGender | None:
    return UserGender(customer.gender) if customer.gender else None


def _country(customer: Customer) -> UserCountry | None:
    return UserCountry(customer.country) if customer.country in COUNTRY_CODES else None


def _extra_info(customer: Customer) -> JSONString | None:
    return JSONString(customer.extra_info) if customer.extra_info is not None else None


def _deleted_at(customer: Customer) -> datetime | None:
    return customer.archived_at if customer.archived else None


# IUserNode's plain fields from its customer: ``IUserNode.of`` makes a node of them all, the
# fast path reads only those a document selects.
USER_NODE_VALUES: dict[str, Callable[[Customer], Any]] = {
    "id": _user_id,
    "pk": attrgetter("number"),
    "email": attrgetter("email"),
    "firstname": lambda customer: customer.first_name or "",
    "lastname": lambda customer: customer.last_name or "",
    "phone_number": attrgetter("phone"),
    "birthday": attrgetter("birthday"),
    "gender": _gender,
    "country": _country,
    "city": attrgetter("city"),
    "street": attrgetter("address_line1"),
    "zip_code": attrgetter("postal_code"),
    "address": _address,
    "picture": attrgetter("picture"),
    "loyalty_id": attrgetter("loyalty_id"),
    "secondary_email": attrgetter("secondary_email"),
    "extra_info": _extra_info,
    "entity_source": lambda customer: entity_source(customer.source),
    "entity_source_id": attrgetter("source_id"),
    "user_type": lambda customer: UserUserType(customer.user_type),
    "active": lambda customer: not customer.archived,
    "archived": attrgetter("archived"),
    "verified": attrgetter("verified"),
    "deleted_at": _deleted_at,
    "created_at": attrgetter("created_at"),
    "updated_at": attrgetter("updated_at"),
}


@strawberry.type(name="IUserNode", description="A consumer (or a merchant user).")
class IUserNode(Node):
    id: strawberry.ID
    pk: int = strawberry.field(description="The consumer's number in the account.")
    email: str | None
    firstname: str
    lastname: str
    phone_number: str | None
    birthday: date | None
    gender: UserGender | None
    country: UserCountry | None
    city: str | None
    street: str | None
    zip_code: str | None
    address: str | None = strawberry.field(description="The address parts in one line.")
    picture: str | None
    loyalty_id: str | None
    secondary_email: str | None
    extra_info: JSONString | None
    entity_source: UserEntitySource | None
    entity_source_id: str | None
    user_type: UserUserType
    active: bool = strawberry.field(description="False when the consumer is archived.")
    archived: bool | None
    verified: bool | None
    deleted_at: datetime | None = strawberry.field(description="When it was archived.")
    created_at: datetime
    updated_at: datetime
    customer: strawberry.Private[Customer]

    @classmethod
    def of(cls, customer: Customer) -> IUserNode:
        return cls(
            **{name: value(customer) for name, value in USER_NODE_VALUES.items()},
            customer=customer,
        )

    @strawberry.field(description="The last time the consumer signed in.")
    def last_login(self, info: Context) -> datetime | None:
        return info.context.profiles().load(self.customer.uuid).last_login_at

    @strawberry.field
    def merchant_type(self, info: Context) -> UserMerchantType | None:
        found = info.context.profiles().load(self.customer.uuid).merchant_type
        return UserMerchantType(found) if found else None

    @strawberry.field(description="The merchant user who signed this one up, if any.")
    def creator(self, info: Context) -> IUserNode | None:
        context = info.context
        creator = context.profiles().load(self.customer.uuid).creator_uuid
        if creator is None:
            return None
        found = consumers.customers_by_uuid(context.connection(), context.reader(), [creator])
        return IUserNode.of(found[creator]) if creator in found else None

    @strawberry.field
    def logo(self, info: Context) -> str | None:
        return info.context.profiles().load(self.customer.uuid).logo

    @strawberry.field
    def num_of_order_discounts_allowed(self, info: Context) -> int:
        return info.context.profiles().load(self.customer.uuid).order_discounts_allowed

    @strawberry.field
    def staff(self, info: Context) -> bool:
        return info.context.profiles().load(self.customer.uuid).staff

    @strawberry.field
    def admin(self, info: Context) -> bool:
        return info.context.profiles().load(self.customer.uuid).admin

    @strawberry.field(
        description="Loyalty points earned by the customer: every point added (orders, grants, "
        "imports, conversions) less those taken back (reversals, refunded orders); spending "
        "and expiry do not lower it. pointsBalance is what is left to spend."
    )
    def points_earned(self, info: Context) -> int | None:
        context = info.context
        earned = context.points_earned().load(self.customer.uuid)
        # Int: whole points (a fractional points precision is cut, never rounded up).
        return earned // int(10**context.principal.points_precision)

    @strawberry.field(
        description="Loyalty points available to spend now (the LOCAL balance less what codes "
        "hold), in whole points (an extension)."
    )
    def points_balance(self, info: Context) -> int | None:
        context = info.context
        wallet = context.wallet_by_customer().load(self.customer.uuid)
        if wallet is None:  # pragma: no cover - a customer always has its wallet
            return None
        return wallet.available(CreditType.LOCAL) // int(10**context.principal.points_precision)

    @strawberry.field(description="Stamps on the card being filled (stamp program).")
    def stamps(self, info: Context) -> int:
        return info.context.stamp_cards().load(self.customer.uuid).stamps

    @strawberry.field(description="Stamp cards filled so far (stamp program).")
    def stamp_cards_completed(self, info: Context) -> int:
        return info.context.stamp_cards().load(self.customer.uuid).rewards

    def _codes(
        self,
        info: Context,
        kind: str,
        first: int | None,
        after: str | None,
        last: int | None,
        before: str | None,
    ) -> RedemptionNodeConnection:
        context = info.context
        wanted = Slice.of(first, after, last, before)
        wallet = context.wallet_by_customer().load(self.customer.uuid)
        if wallet is None:  # pragma: no cover - a customer always has its wallet
            return RedemptionNodeConnection(
                page_info=Slice().window(0).page_info(), edges=[], total_count=0
            )
        where = _FILTERS[kind]
        total = context.code_counts(kind, where).load(wallet.uuid)
        window = wanted.window(total)
        found = (
            context.codes(kind, where, window.size, window.start).load(wallet.uuid)
            if window.size
            else []
        )
        edges: list[RedemptionNodeEdge | None] = [
            RedemptionNodeEdge(
                node=RedemptionNode.of(code, context), cursor=ids.offset_cursor(window.start + i)
            )
            for i, code in enumerate(found)
        ]
        return RedemptionNodeConnection(
            page_info=window.page_info(), edges=edges, total_count=total
        )

    @strawberry.field(description="Every redemption code of the consumer, newest first.")
    def redemptions(
        self,
        info: Context,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> RedemptionNodeConnection:
        return self._codes(info, "all", first, after, last, before)

    @strawberry.field(description="The reward codes of full stamp cards, newest first.")
    def stamps_redemptions(
        self,
        info: Context,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> RedemptionNodeConnection:
        return self._codes(info, "stamps", first, after, last, before)

    @strawberry.field(description="The codes holding loyalty points (LOCAL), newest first.")
    def points_redemptions(
        self,
        info: Context,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> RedemptionNodeConnection:
        return self._codes(info, "points", first, after, last, before)


@strawberry.type
class IUserNodeEdge:
    node: IUserNode | None
    cursor: str


@strawberry.type
class OrderTypeNode:
    name: str


def _display(value: str) -> str:
    """``CREDIT_CARD`` as people read it: ``Credit card``."""
    words = value.replace("_", " ").strip()
    return words[:1].upper() + words[1:].lower()


@strawberry.type(description="An order of the consumer.")
class OrderNode(Node):
    id: strawberry.ID
    order_id: str = strawberry.field(description="The order's id in the point of sale.")
    status: str
    total: Decimal
    currency: str
    payment_type: str | None
    payment_type_display: str | None
    order_type: OrderTypeNode | None
    completed_at: datetime | None
    created_at: datetime
    order: strawberry.Private[Order]

    @classmethod
    def of(cls, order: Order, context: LoyaltydishContext) -> OrderNode:
        return cls(
            id=strawberry.ID(ids.encode(ids.ORDER, order.uuid)),
            order_id=order.external_id,
            status=order.status.value,
            total=from_minor(order.total, context.principal.currency_precision),
            currency=order.currency,
            payment_type=order.payment_type,
            payment_type_display=_display(order.payment_type) if order.payment_type else None,
            order_type=OrderTypeNode(name=order.order_type) if order.order_type else None,
            completed_at=order.completed_at,
            created_at=order.created_at,
            order=order,
        )

    @strawberry.field
    def store(self, info: Context) -> StoreNode | None:
        if self.order.store_uuid is None:
            return None
        store = info.context.stores().load(self.order.store_uuid)
        if store is None:
            return None
        return StoreNode(
            id=strawberry.ID(ids.encode(ids.STORE, store.uuid)),
            name=store.name,
            external_id=store.external_id,
        )


@strawberry.type
class OrderNodeEdge:
    node: OrderNode | None
    cursor: str


@strawberry.type
class OrderNodeConnection:
    page_info: PageInfo
    edges: list[OrderNodeEdge | None]
    total_count: int | None


@strawberry.type(description="A promotion the consumer qualifies for.")
class PromotionNode(Node):
    id: strawberry.ID
    pk: int
    name: str
    description: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    all_stores: bool
    reward_type: PromotionReward
    reward_value: Decimal = strawberry.field(
        description="The multiplier, or the amount of rewardCreditType."
    )
    reward_credit_type: CreditKind | None

    @classmethod
    def of(cls, promotion: Promotion, context: LoyaltydishContext) -> PromotionNode:
        if promotion.reward is Reward.POINTS_MULTIPLIER:
            value = promotion.reward_multiplier or Decimal(0)
            credit = None
        else:
            credit = CreditType(promotion.reward_credit_type or CreditType.GLOBAL.value)
            places = ledger.precision(context.principal, credit)
            value = from_minor(promotion.reward_amount or 0, places)
        return cls(
            id=strawberry.ID(ids.encode(ids.PROMOTION, promotion.uuid)),
            pk=promotion.number,
            name=promotion.name,
            description=promotion.description,
            starts_at=promotion.starts_at,
            ends_at=promotion.ends_at,
            all_stores=promotion.all_stores,
            reward_type=PromotionReward(promotion.reward.value),
            reward_value=value,
            reward_credit_type=CreditKind(credit.value) if credit is not None else None,
        )


@strawberry.type
class PromotionNodeEdge:
    node: PromotionNode | None
    cursor: str


@strawberry.type
class PromotionNodeConnection:
    page_info: PageInfo
    edges: list[PromotionNodeEdge | None]
    count: int = strawberry.field(description="How many promotions the consumer has.")
    total_count: int | None
