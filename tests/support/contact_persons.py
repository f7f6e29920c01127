"""Builders and store readers for contact persons (seed 004)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from patron.contact_persons import service as contact_persons
from patron.contact_persons.models import ContactPerson, NewContactPerson
from patron.contact_persons.tables import contact_persons as contact_persons_table
from patron.core.db import Database
from patron.core.events import outbox_events
from patron.customers.tables import customers
from tests.support.tenants import Tenant


def make_contact_person(
    db: Database,
    tenant: Tenant,
    customer: int,
    *,
    name: str = "John Smith",
    phone: str = "",
    email: str | None = None,
    note: str = "",
) -> ContactPerson:
    return contact_persons.create_contact_person(
        db,
        tenant.principal,
        NewContactPerson(customer=customer, name=name, phone=phone, email=email, note=note),
    )


def snapshot(db: Database, account_uuid: str) -> dict[str, list[tuple[Any, ...]]]:
    """What a refused call must leave exactly as it was: contact persons, customers, outbox."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with db.read() as connection:
        for table in (contact_persons_table, customers, outbox_events):
            rows = connection.execute(select(table).where(table.c.account_id == account_uuid))
            found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found


def outbox_types(db: Database, account_uuid: str) -> list[str]:
    with db.read() as connection:
        rows = connection.execute(
            select(outbox_events.c.event_type, outbox_events.c.payload)
            .where(outbox_events.c.account_id == account_uuid)
            .order_by(outbox_events.c.created_at)
        )
        return [row.event_type for row in rows]
