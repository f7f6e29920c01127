"""Consumer values: registrations, issued sessions, verified access tokens, profile extras."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from patron.customers.models import Customer


class MerchantType(StrEnum):
    """The kind of business of a MERCHANT user."""

    RESTAURANT = "RESTAURANT"
    CAFE = "CAFE"
    BAR = "BAR"
    BAKERY = "BAKERY"
    FOOD_TRUCK = "FOOD_TRUCK"
    RETAIL = "RETAIL"
    OTHER = "OTHER"


MERCHANT_TYPES = tuple(merchant_type.value for merchant_type in MerchantType)


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """How consumer tokens are made: the configured secret (None: a key per account kept in
    the database, for development) and the lifetimes."""

    secret: bytes | None
    access_seconds: int = 300
    refresh_days: int = 30


@dataclass(frozen=True, slots=True)
class Registration:
    """A signup. Values are the edge's strings; the service checks each one."""

    email: str
    password: str
    password_confirmation: str
    first_name: str
    last_name: str
    user_type: str = "CONSUMER"
    merchant_type: str | None = None
    phone: str | None = None
    birthday: str | None = None
    country: str | None = None
    city: str | None = None
    street: str | None = None
    postal_code: str | None = None
    gender: str | None = None


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says."""

    account_id: str
    customer_uuid: str
    number: int
    email: str | None
    issued_at: int
    expires_at: int
    original_issued_at: int

    def payload(self) -> dict[str, Any]:
        """The claims as the original's JWT library shows them."""
        return {
            "email": self.email,
            "exp": self.expires_at,
            "origIat": self.original_issued_at,
            "pk": self.number,
        }


@dataclass(frozen=True, slots=True)
class Session:
    """A login: a short-lived access token and the refresh token that renews it."""

    customer: Customer
    access_token: str
    refresh_token: str
    claims: AccessClaims


@dataclass(frozen=True, slots=True)
class ConsumerProfile:
    """What the loyalty app adds to a customer; a customer without a row has the defaults."""

    customer_uuid: str
    merchant_type: str | None = None
    creator_uuid: str | None = None
    logo: str | None = None
    order_discounts_allowed: int = 0
    staff: bool = False
    admin: bool = False
    last_login_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProfileChanges:
    """Only the fields given change (a None value clears an optional one)."""

    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConsumerQuery:
    """A window of the account's consumers by number, narrowed by filters.

    ``after``/``before`` are customer numbers (exclusive); ``first``/``last`` sizes.
    """

    loyalty_id: str | None = None
    phone_contains: str | None = None
    email_contains: str | None = None
    first: int | None = None
    last: int | None = None
    after: int | None = None
    before: int | None = None


@dataclass(frozen=True, slots=True)
class ConsumerPage:
    customers: list[Customer]
    has_next: bool
    has_previous: bool
