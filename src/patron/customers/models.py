"""Customer values as the core hands them out and takes them in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


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
        if self.name:
            return self.name
        parts = [part for part in (self.first_name, self.last_name) if part]
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
