"""Contact person values as the core hands them out and takes them in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The keys a list can be ordered by; the id always breaks ties.
ORDER_KEYS = ("id", "customer", "name", "phone", "email", "note")


@dataclass(frozen=True, slots=True)
class ContactPerson:
    id: int
    customer_uuid: str
    customer_number: int
    name: str
    phone: str
    email: str | None
    note: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NewContactPerson:
    customer: int
    name: str
    phone: str = ""
    email: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class ContactPersonChanges:
    """Only the fields present change: keys of ``values`` are customer, name, phone, email, note."""

    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContactPersonConditions:
    customer: int | None = None
    after: int | None = None


@dataclass(frozen=True, slots=True)
class OrderKey:
    key: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class ContactPersonQuery:
    conditions: ContactPersonConditions = field(default_factory=ContactPersonConditions)
    order: tuple[OrderKey, ...] = ()
    limit: int | None = None
    first: int | None = None
