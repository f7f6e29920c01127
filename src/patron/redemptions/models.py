"""Redemption codes: credit held for a customer until the code is used."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from patron.wallets.models import CreditType

SOURCE_MANUAL = "MANUAL"
SOURCE_STAMPS = "STAMPS"


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


@dataclass(frozen=True, slots=True)
class NewRedemption:
    """What a create command carries; ``amount`` is the exact decimal from the edge."""

    credit_type: str
    amount: object
    wallet_uuid: str | None = None
    customer_uuid: str | None = None
    quantity: int = 1
    expires_at: datetime | None = None
    note: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class CodeFilter:
    """Narrows a wallet's codes: by what made them, or by credit type."""

    source: str | None = None
    not_source: str | None = None
    credit_type: str | None = None
