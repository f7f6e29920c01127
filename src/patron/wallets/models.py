"""Wallet and ledger values. Amounts are integers of the smallest unit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    ADD = "ADD"
    SPEND = "SPEND"
    REMOVE = "REMOVE"


# The outbox event of an entry, by its action.
EVENT_FOR_ACTION = {
    Action.ADD: "wallet.credit_added",
    Action.SPEND: "wallet.credit_spent",
    Action.REMOVE: "wallet.credit_removed",
}


class CreditType(StrEnum):
    GLOBAL = "GLOBAL"
    LOCAL = "LOCAL"


class Reason(StrEnum):
    MANUAL = "MANUAL"
    CONVERSION = "CONVERSION"
    REDEMPTION = "REDEMPTION"
    REDEMPTION_REFUND = "REDEMPTION_REFUND"
    ORDER = "ORDER"
    ORDER_REFUND = "ORDER_REFUND"
    EXPIRY = "EXPIRY"
    IMPORT = "IMPORT"

    @property
    def reversal(self) -> Reason | None:
        """The reason of an entry that reverses one of this reason; None: not reversible
        (conversions, refunds and expiry are undone by their own commands, if at all)."""
        return _REVERSALS.get(self)


_REVERSALS = {
    Reason.MANUAL: Reason.MANUAL,
    Reason.ORDER: Reason.ORDER_REFUND,
    Reason.REDEMPTION: Reason.REDEMPTION_REFUND,
    Reason.IMPORT: Reason.IMPORT,
}


@dataclass(frozen=True, slots=True)
class Wallet:
    uuid: str
    customer_uuid: str
    global_balance: int
    local_balance: int
    global_held: int
    local_held: int
    shopify_balance: int | None
    entry_count: int
    open_lots: int
    created_at: datetime
    updated_at: datetime
    # When Shopify's store-credit balance was last read; None before any sync.
    shopify_synced_at: datetime | None = None
    # Credit in lots past their expiry that no sweep has removed yet: never spendable.
    global_expired: int = 0
    local_expired: int = 0

    def available(self, credit_type: CreditType) -> int:
        return available(self, credit_type)

    def held(self, credit_type: CreditType) -> int:
        return self.global_held if credit_type is CreditType.GLOBAL else self.local_held


def available(wallet: Any, credit_type: CreditType) -> int:
    """What a wallet (a model, or a projected record of its balance, hold and unswept
    expired columns) can spend of one credit type."""
    if credit_type is CreditType.GLOBAL:
        return int(wallet.global_balance - wallet.global_held - wallet.global_expired)
    return int(wallet.local_balance - wallet.local_held - wallet.local_expired)


@dataclass(frozen=True, slots=True)
class CreditEntry:
    uuid: str
    wallet_uuid: str
    seq: int
    action: Action
    credit_type: CreditType
    amount: int
    balance_after: int
    reason: Reason
    note: str | None
    idempotency_key: str | None
    conversion_uuid: str | None
    redemption_uuid: str | None
    order_uuid: str | None
    reverses_uuid: str | None
    expires_at: datetime | None
    created_at: datetime
    # Who wrote it: Principal.actor ("token:<id>", "consumer:<uuid>", "staff:<id>",
    # "system:<job>") and the token's or job's name.
    actor: str | None = None
    actor_name: str | None = None


@dataclass(frozen=True, slots=True)
class EntryCommand:
    """A client's ADD, SPEND or REMOVE. ``amount`` is the exact decimal from the edge."""

    wallet_uuid: str
    action: str
    credit_type: str
    amount: object
    note: str | None = None
    idempotency_key: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConversionCommand:
    wallet_uuid: str
    amount: object
    from_type: str
    to_type: str
    conversion_rate: object | None = None
    note: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class Conversion:
    conversion_uuid: str
    rate: Decimal
    removed: CreditEntry
    added: CreditEntry


@dataclass(frozen=True, slots=True)
class DayFlow:
    """One day of a credit type's ledger: what was added, spent, removed and expired."""

    day: str  # YYYY-MM-DD (UTC)
    added: int = 0
    spent: int = 0
    removed: int = 0  # REMOVE entries other than expiry
    expired: int = 0


@dataclass(frozen=True, slots=True)
class LedgerOverview:
    """An account's ledger in numbers, for the console's overview: per credit type, the
    balance (available + held) at the end of each of the last ``days`` days, each day's
    flows, and what expires on each of the next days. Amounts in the smallest unit."""

    days: list[str]
    balances: dict[CreditType, list[int]]
    held: dict[CreditType, int]
    flows: dict[CreditType, list[DayFlow]]
    expiring: dict[CreditType, list[tuple[str, int]]]
