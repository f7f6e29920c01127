"""The stamp program of an account and the cards of its customers."""

from __future__ import annotations

from dataclasses import dataclass

from patron.wallets.models import CreditType

MAX_STAMPS_REQUIRED = 100
MAX_EXPIRY_DAYS = 3650


@dataclass(frozen=True, slots=True)
class StampProgram:
    """A stamp for each completed order of at least ``min_order_total`` (currency minor
    units); a full card of ``stamps_required`` becomes a redemption code holding
    ``reward_amount`` (smallest unit of ``reward_credit_type``)."""

    stamps_required: int
    reward_credit_type: CreditType
    reward_amount: int
    min_order_total: int = 0
    reward_expires_days: int | None = None

    def stored(self) -> dict[str, object]:
        return {
            "stamps_required": self.stamps_required,
            "reward_credit_type": self.reward_credit_type.value,
            "reward_amount": self.reward_amount,
            "min_order_total": self.min_order_total,
            "reward_expires_days": self.reward_expires_days,
        }


@dataclass(frozen=True, slots=True)
class StampProgramCommand:
    """A program as the edge gives it: amounts are exact decimals in their units."""

    stamps_required: int
    reward_credit_type: str
    reward_value: object
    min_order_total: object | None = None
    reward_expires_days: int | None = None


@dataclass(frozen=True, slots=True)
class StampCard:
    customer_uuid: str
    stamps: int = 0
    rewards: int = 0
