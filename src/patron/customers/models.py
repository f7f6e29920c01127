"""Customer values as the core hands them out and takes them in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any


class ConnectedService(StrEnum):
    """An external service a customer can be linked to and synced with."""

    SHOPIFY = "SHOPIFY"
    KLAVIYO = "KLAVIYO"
    LIGHTSPEED = "LIGHTSPEED"
    SALESFORCE = "SALESFORCE"


class Gender(StrEnum):
    FEMALE = "FEMALE"
    MALE = "MALE"
    OTHER = "OTHER"
    UNSPECIFIED = "UNSPECIFIED"


class UserType(StrEnum):
    """A customer buying for themselves, or a merchant's user (who may sign consumers up)."""

    CONSUMER = "CONSUMER"
    MERCHANT = "MERCHANT"


class Source(StrEnum):
    """The sources a customer is known to come from (its ``source`` is free text; OTHER stands
    for any other)."""

    LOYALTYDISH = "LOYALTYDISH"
    SHOPIFY = "SHOPIFY"
    SALESFORCE = "SALESFORCE"
    SPOTIFY = "SPOTIFY"
    KLAVIYO = "KLAVIYO"
    LIGHTSPEED = "LIGHTSPEED"
    IMPORT = "IMPORT"
    API = "API"
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True)
class Customer:
    uuid: str
    number: int
    name: str | None
    first_name: str | None
    last_name: str | None
    email: str | None
    secondary_email: str | None
    phone: str | None
    birthday: date | None
    gender: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    region: str | None
    postal_code: str | None
    country: str | None
    loyalty_id: str | None
    picture: str | None
    extra_info: dict[str, Any] | None
    source: str | None
    source_id: str | None
    notes: str | None
    accepts_marketing: bool
    verified: bool
    archived: bool
    user_type: str
    connected_services: list[str]
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = None

    @property
    def display_name(self) -> str | None:
        return display_name(self.name, self.first_name, self.last_name)


def display_name(name: str | None, first_name: str | None, last_name: str | None) -> str | None:
    """The name a customer is shown by: its name, else first and last name."""
    if name:
        return name
    parts = [part for part in (first_name, last_name) if part]
    return " ".join(parts) or None


@dataclass(frozen=True, slots=True)
class NewCustomer:
    """What a create command carries: profile fields by core name, external ids by service."""

    profile: dict[str, Any] = field(default_factory=dict)
    identities: dict[str, str] = field(default_factory=dict)
    connected_services: list[str] = field(default_factory=list)
    password_hash: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerChanges:
    """Only the fields present are changed; a None value clears an optional field."""

    profile: dict[str, Any] = field(default_factory=dict)
    identities: dict[str, str | None] = field(default_factory=dict)
    connected_services: list[str] | None = None


@dataclass(frozen=True, slots=True)
class CustomerFilter:
    uuid: str | None = None
    email: str | None = None
    shopify_id: str | None = None
    number: int | None = None


def contact_event(
    contact_uuid: str,
    number: int,
    connected_services: list[str],
    wallet_uuid: str | None = None,
) -> dict[str, Any]:
    """The payload of a contact's ``contact.created`` and ``contact.updated`` events."""
    payload: dict[str, Any] = {
        "contact_uuid": contact_uuid,
        "number": number,
        "connected_services": connected_services,
    }
    if wallet_uuid is not None:
        payload["wallet_uuid"] = wallet_uuid
    return payload
