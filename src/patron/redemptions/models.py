"""Redemption codes: credit held for a customer until the code is used."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from patron.wallets.models import CreditType

SOURCE_MANUAL = "MANUAL"
SOURCE_STAMPS = "STAMPS"


class RedemptionType(StrEnum):
    """What a code gives. The two CREDIT_ types hold wallet credit (LOCAL, GLOBAL); the others
    carry their value and type for an order or a shop to apply, and hold nothing."""

    DISCOUNT_FIXED = "DISCOUNT_FIXED"
    DISCOUNT_PERCENTAGE = "DISCOUNT_PERCENTAGE"
    CREDIT_LOCAL_CURRENCY = "CREDIT_LOCAL_CURRENCY"
    CREDIT_GLOBAL_CURRENCY = "CREDIT_GLOBAL_CURRENCY"
    FREE_PRODUCT = "FREE_PRODUCT"
    FREE_SHIPPING = "FREE_SHIPPING"
    DISCOUNTED_SHIPPING_FIXED = "DISCOUNTED_SHIPPING_FIXED"
    DISCOUNTED_SHIPPING_PERCENTAGE = "DISCOUNTED_SHIPPING_PERCENTAGE"


CREDIT_TYPES = {
    RedemptionType.CREDIT_LOCAL_CURRENCY: CreditType.LOCAL,
    RedemptionType.CREDIT_GLOBAL_CURRENCY: CreditType.GLOBAL,
}
PERCENTAGE_TYPES = frozenset(
    {RedemptionType.DISCOUNT_PERCENTAGE, RedemptionType.DISCOUNTED_SHIPPING_PERCENTAGE}
)
FIXED_TYPES = frozenset({RedemptionType.DISCOUNT_FIXED, RedemptionType.DISCOUNTED_SHIPPING_FIXED})
VALUELESS_TYPES = frozenset({RedemptionType.FREE_PRODUCT, RedemptionType.FREE_SHIPPING})
# A percentage is stored in basis points: 12.5 % is 1250, 100 % is 10000.
PERCENT_PLACES = 2


def credit_redemption_type(credit_type: CreditType) -> RedemptionType:
    return (
        RedemptionType.CREDIT_LOCAL_CURRENCY
        if credit_type is CreditType.LOCAL
        else RedemptionType.CREDIT_GLOBAL_CURRENCY
    )


class DeliveryMethod(StrEnum):
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    LINK = "LINK"
    CREDIT = "CREDIT"


class RedemptionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    REDEEMED = "REDEEMED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True, slots=True)
class Redemption:
    uuid: str
    code: str
    customer_uuid: str
    wallet_uuid: str
    credit_type: CreditType
    amount: int
    status: RedemptionStatus
    note: str | None
    expires_at: datetime | None
    redeemed_at: datetime | None
    released_at: datetime | None
    release_reason: str | None
    spend_entry_uuid: str | None
    promotion_uuid: str | None
    created_at: datetime
    updated_at: datetime
    # What made the code: MANUAL (a merchant's command), STAMPS (a full stamp card), ...
    source: str = "MANUAL"
    # Credit codes hold ``amount`` of ``credit_type``; the other types hold nothing and their
    # ``amount`` is basis points (percentages), the currency's minor units (fixed) or 0 (free).
    redemption_type: RedemptionType = RedemptionType.CREDIT_LOCAL_CURRENCY
    delivery_method: DeliveryMethod = DeliveryMethod.CREDIT
    recipient_name: str | None = None
    recipient_email: str | None = None
    recipient_phone: str | None = None
    recipient_external_id: str | None = None

    @property
    def holds_credit(self) -> bool:
        return self.redemption_type in CREDIT_TYPES


@dataclass(frozen=True, slots=True)
class NewRedemption:
    """What a create command carries; ``amount`` is the exact decimal from the edge.

    ``credit_type`` alone (as before) makes credit codes; ``redemption_type`` names any type,
    and when both are given for a credit code they must agree."""

    credit_type: str | None
    amount: object
    wallet_uuid: str | None = None
    customer_uuid: str | None = None
    quantity: int = 1
    expires_at: datetime | None = None
    note: str | None = None
    idempotency_key: str | None = None
    redemption_type: str | None = None
    delivery_method: str | None = None
    recipient_name: str | None = None
    recipient_email: str | None = None
    recipient_phone: str | None = None
    recipient_external_id: str | None = None


@dataclass(frozen=True, slots=True)
class CodeFilter:
    """Narrows a wallet's codes: by what made them, or by credit type."""

    source: str | None = None
    not_source: str | None = None
    credit_type: str | None = None
