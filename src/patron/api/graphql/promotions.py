"""Promotions on the native API (extensions in the seed's style)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol

import strawberry
from strawberry.types import Info

from patron.accounts.principal import Principal
from patron.api.graphql.context import Context
from patron.api.graphql.errors import UserError, domain_errors_as
from patron.api.graphql.redemptions import RedemptionCode
from patron.api.graphql.relay import Node
from patron.api.graphql.wallets import CreditEntry, CreditType
from patron.core.errors import InvalidInput
from patron.core.money import from_minor
from patron.orders.promotions import service as promotion_service
from patron.orders.promotions.models import (
    UNCHANGED,
    Audience,
    PromotionChanges,
    PromotionCommand,
    Reward,
)
from patron.orders.promotions.models import Promotion as PromotionModel
from patron.wallets import ledger
from patron.wallets.models import CreditType as CreditTypeModel


class HasUuid(Protocol):
    uuid: str


strawberry.enum(Audience, name="PromotionAudience", description="Who a promotion is for.")
PromotionAudience = Audience
strawberry.enum(Reward, name="PromotionReward", description="What a promotion gives.")
PromotionReward = Reward


@strawberry.type(description="A promotion: who it is for, where, when, and what it gives.")
class Promotion(Node):
    uuid: str
    number: int = strawberry.field(description="Stable per-account integer id.")
    name: str
    description: str | None
    active: bool
    starts_at: datetime | None
    ends_at: datetime | None
    all_stores: bool
    store_uuids: list[str] = strawberry.field(description="Empty when it is for every store.")
    audience: PromotionAudience
    audience_value: Decimal | None = strawberry.field(
        description="Minimum points (MIN_POINTS) or completed orders (MIN_ORDERS)."
    )
    reward: PromotionReward
    reward_value: Decimal = strawberry.field(
        description="The multiplier (POINTS_MULTIPLIER) or the amount of rewardCreditType."
    )
    reward_credit_type: CreditType | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, promotion: PromotionModel, principal: Principal) -> Promotion:
        audience_value = None
        if promotion.audience_value is not None:
            places = principal.points_precision if promotion.audience.value == "MIN_POINTS" else 0
            audience_value = from_minor(promotion.audience_value, places)
        credit_type = (
            CreditTypeModel(promotion.reward_credit_type) if promotion.reward_credit_type else None
        )
        if promotion.reward_multiplier is not None:
            reward_value = promotion.reward_multiplier
        else:
            assert credit_type is not None
            assert promotion.reward_amount is not None
            reward_value = from_minor(
                promotion.reward_amount, ledger.precision(principal, credit_type)
            )
        return cls(
            uuid=promotion.uuid,
            number=promotion.number,
            name=promotion.name,
            description=promotion.description,
            active=promotion.active,
            starts_at=promotion.starts_at,
            ends_at=promotion.ends_at,
            all_stores=promotion.all_stores,
            store_uuids=list(promotion.store_uuids),
            audience=promotion.audience,
            audience_value=audience_value,
            reward=promotion.reward,
            reward_value=reward_value,
            reward_credit_type=CreditType(credit_type.value) if credit_type else None,
            created_at=promotion.created_at,
            updated_at=promotion.updated_at,
        )


def account_promotions(
    info: Info[Context, None],
    active: bool | None = None,
    uuid: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> list[Promotion]:
    context = info.context
    found = promotion_service.list_promotions(
        context.connection(),
        context.principal,
        limit=limit,
        offset=offset,
        active=active,
        uuid=uuid,
    )
    return [Promotion.of(promotion, context.principal) for promotion in found]


def account_promotions_count(info: Info[Context, None]) -> int:
    context = info.context
    return promotion_service.count_promotions(context.connection(), context.principal)


def contact_available_promotions(
    root: HasUuid, info: Info[Context, None], store_uuid: str | None = None
) -> list[Promotion]:
    """Active now, for this contact's audience, at the store when one is given."""
    context = info.context
    found = context.promotions_by_customer(store_uuid).load(root.uuid)
    return [Promotion.of(promotion, context.principal) for promotion in found]


@strawberry.input(description="storeUuids left out means every store.")
class PromotionInput:
    name: str
    reward: PromotionReward
    reward_value: Decimal
    reward_credit_type: CreditType | None = None
    description: str | None = None
    active: bool = True
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    store_uuids: list[str] | None = None
    audience: PromotionAudience = PromotionAudience.EVERYONE
    audience_value: Decimal | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="Retrying with the same key returns the first result."
    )


@strawberry.input(description="Only the fields given change; storeUuids null means every store.")
class UpdatePromotionInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET
    starts_at: datetime | None = strawberry.UNSET
    ends_at: datetime | None = strawberry.UNSET
    store_uuids: list[str] | None = strawberry.UNSET
    audience: PromotionAudience | None = strawberry.UNSET
    audience_value: Decimal | None = strawberry.UNSET
    reward: PromotionReward | None = strawberry.UNSET
    reward_value: Decimal | None = strawberry.UNSET
    reward_credit_type: CreditType | None = strawberry.UNSET


@strawberry.type
class PromotionResponse:
    success: bool
    promotion: Promotion | None = None
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


@domain_errors_as(PromotionResponse)
def create_promotion(info: Info[Context, None], promotion: PromotionInput) -> PromotionResponse:
    context = info.context
    command = PromotionCommand(
        name=promotion.name,
        reward=promotion.reward.value,
        reward_value=promotion.reward_value,
        reward_credit_type=_value(promotion.reward_credit_type),
        description=promotion.description,
        active=promotion.active,
        starts_at=promotion.starts_at,
        ends_at=promotion.ends_at,
        store_uuids=promotion.store_uuids,
        audience=promotion.audience.value,
        audience_value=promotion.audience_value,
        idempotency_key=promotion.idempotency_key,
    )
    created = promotion_service.create_promotion(context.db, context.principal, command)
    return PromotionResponse(success=True, promotion=Promotion.of(created, context.principal))


_REQUIRED = {
    "name": "name",
    "active": "active",
    "audience": "audience",
    "reward": "reward",
    "reward_value": "rewardValue",
}
_NULLABLE = (
    "description",
    "starts_at",
    "ends_at",
    "store_uuids",
    "audience_value",
    "reward_credit_type",
)


def _changes(given: UpdatePromotionInput) -> PromotionChanges:
    values: dict[str, Any] = {}
    for name, field in _REQUIRED.items():
        value = getattr(given, name)
        if value is strawberry.UNSET:
            continue
        if value is None:
            raise InvalidInput(f"{field} cannot be null", field=field)
        values[name] = _value(value)
    for name in _NULLABLE:
        value = getattr(given, name)
        if value is not strawberry.UNSET:
            values[name] = _value(value)
    return PromotionChanges(
        **{name: values.get(name, UNCHANGED) for name in (*_REQUIRED, *_NULLABLE)}
    )


@domain_errors_as(PromotionResponse)
def update_promotion(
    info: Info[Context, None], uuid: str, promotion: UpdatePromotionInput
) -> PromotionResponse:
    context = info.context
    updated = promotion_service.update_promotion(
        context.db, context.principal, uuid, _changes(promotion)
    )
    return PromotionResponse(success=True, promotion=Promotion.of(updated, context.principal))


@strawberry.input
class ClaimPromotionInput:
    promotion_uuid: str
    contact_uuid: str
    store_uuid: str | None = strawberry.field(
        default=None, description="Where the customer claims it, for store-bound promotions."
    )


@strawberry.type
class ClaimPromotionResponse:
    success: bool
    promotion: Promotion | None = None
    credit_entry: CreditEntry | None = strawberry.field(
        default=None, description="The ADD of a FIXED_CREDIT reward."
    )
    redemption_code: RedemptionCode | None = strawberry.field(
        default=None, description="The code of a REDEMPTION_CODE reward, holding its credit."
    )
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@domain_errors_as(ClaimPromotionResponse)
def claim_promotion(
    info: Info[Context, None], claim: ClaimPromotionInput
) -> ClaimPromotionResponse:
    """Give a contact a promotion's FIXED_CREDIT or REDEMPTION_CODE reward, once."""
    context = info.context
    claimed = promotion_service.claim_promotion(
        context.db,
        context.principal,
        claim.promotion_uuid,
        claim.contact_uuid,
        store_uuid=claim.store_uuid,
    )
    principal = context.principal
    return ClaimPromotionResponse(
        success=True,
        promotion=Promotion.of(claimed.promotion, principal),
        credit_entry=CreditEntry.of(claimed.entry, principal) if claimed.entry else None,
        redemption_code=(
            RedemptionCode.of(claimed.redemption, principal) if claimed.redemption else None
        ),
    )
