"""Promotions: who they are for, where, when, and what they give."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final


class Audience(StrEnum):
    EVERYONE = "EVERYONE"
    MIN_POINTS = "MIN_POINTS"
    MIN_ORDERS = "MIN_ORDERS"
    BIRTHDAY_MONTH = "BIRTHDAY_MONTH"


class Reward(StrEnum):
    POINTS_MULTIPLIER = "POINTS_MULTIPLIER"
    FIXED_CREDIT = "FIXED_CREDIT"
    REDEMPTION_CODE = "REDEMPTION_CODE"


@dataclass(frozen=True, slots=True)
class Promotion:
    """``audience_value`` is points in the smallest unit (MIN_POINTS) or a number of orders
    (MIN_ORDERS). The reward is a multiplier (POINTS_MULTIPLIER) or an amount of
    ``reward_credit_type`` in its smallest unit (FIXED_CREDIT, REDEMPTION_CODE)."""

    uuid: str
    number: int
    name: str
    description: str | None
    active: bool
    starts_at: datetime | None
    ends_at: datetime | None
    all_stores: bool
    store_uuids: tuple[str, ...]
    audience: Audience
    audience_value: int | None
    reward: Reward
    reward_multiplier: Decimal | None
    reward_amount: int | None
    reward_credit_type: str | None
    created_at: datetime
    updated_at: datetime


class Unchanged:
    """The value of a field an update leaves as it is."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = Unchanged()


@dataclass(frozen=True, slots=True)
class PromotionCommand:
    """A new promotion. ``store_uuids`` None means every store; values are edge values."""

    name: str
    reward: str
    reward_value: object
    reward_credit_type: str | None = None
    description: str | None = None
    active: bool = True
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    store_uuids: list[str] | None = None
    audience: str = Audience.EVERYONE.value
    audience_value: object | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class PromotionChanges:
    """Only the fields given change; the result is checked like a new promotion."""

    name: str | Unchanged = UNCHANGED
    description: str | Unchanged | None = UNCHANGED
    active: bool | Unchanged = UNCHANGED
    starts_at: datetime | Unchanged | None = UNCHANGED
    ends_at: datetime | Unchanged | None = UNCHANGED
    store_uuids: list[str] | Unchanged | None = UNCHANGED
    audience: str | Unchanged = UNCHANGED
    audience_value: object | None = field(default=UNCHANGED)
    reward: str | Unchanged = UNCHANGED
    reward_value: object = field(default=UNCHANGED)
    reward_credit_type: str | Unchanged | None = UNCHANGED
