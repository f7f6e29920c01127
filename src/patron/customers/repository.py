"""SQL for customers and identities. Every statement is scoped by the account."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Subquery, delete, func, insert, select, update

from patron.core.bulk import values_in
from patron.core.clock import as_utc
from patron.customers.models import Customer, CustomerFilter
from patron.customers.tables import customers, identities
from patron.customers.validation import display_external_id

_CUSTOMER_COLUMNS = [
    column
    for column in customers.c
    if column.name not in {"account_id", "email_normalized", "password_hash"}
]


def customer_from_row(row: Any) -> Customer:
    return Customer(
        uuid=row.uuid,
        number=row.number,
        name=row.name,
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
        secondary_email=row.secondary_email,
        phone=row.phone,
        birthday=row.birthday,
        gender=row.gender,
        address_line1=row.address_line1,
        address_line2=row.address_line2,
        city=row.city,
        region=row.region,
        postal_code=row.postal_code,
        country=row.country,
        loyalty_id=row.loyalty_id,
        picture=row.picture,
        extra_info=row.extra_info,
        source=row.source,
        source_id=row.source_id,
        notes=row.notes,
        accepts_marketing=bool(row.accepts_marketing),
        verified=bool(row.verified),
        archived=bool(row.archived),
        user_type=row.user_type,
        connected_services=list(row.connected_services or []),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        archived_at=as_utc(row.archived_at) if row.archived_at is not None else None,
    )


def customer_from_values(values: dict[str, Any]) -> Customer:
    """The customer just inserted, from the values written (no read-back)."""
    row = SimpleNamespace(**{column.name: values.get(column.name) for column in customers.c})
    return customer_from_row(row)


def insert_customer(connection: Connection, values: dict[str, Any]) -> None:
    connection.execute(insert(customers).values(**values))


def update_customer(
    connection: Connection, account_id: str, customer_uuid: str, values: dict[str, Any]
) -> int:
    result = connection.execute(
        update(customers)
        .where(customers.c.account_id == account_id, customers.c.uuid == customer_uuid)
        .values(**values)
    )
    return result.rowcount


def delete_customer(connection: Connection, account_id: str, customer_uuid: str) -> int:
    result = connection.execute(
        delete(customers).where(
            customers.c.account_id == account_id, customers.c.uuid == customer_uuid
        )
    )
    return result.rowcount


def get_customer(
    connection: Connection, account_id: str, customer_uuid: str, *, for_update: bool = False
) -> Customer | None:
    query = select(*_CUSTOMER_COLUMNS).where(
        customers.c.account_id == account_id, customers.c.uuid == customer_uuid
    )
    if for_update:
        query = query.with_for_update()
    row = connection.execute(query).first()
    return customer_from_row(row) if row else None


def customer_uuid_for_email(connection: Connection, account_id: str, email: str) -> str | None:
    return connection.execute(
        select(customers.c.uuid).where(
            customers.c.account_id == account_id, customers.c.email_normalized == email
        )
    ).scalar_one_or_none()


def customer_uuid_for_loyalty_id(
    connection: Connection, account_id: str, loyalty_id: str
) -> str | None:
    return connection.execute(
        select(customers.c.uuid).where(
            customers.c.account_id == account_id, customers.c.loyalty_id == loyalty_id
        )
    ).scalar_one_or_none()


def find_customers(
    connection: Connection,
    account_id: str,
    where: CustomerFilter,
    *,
    limit: int,
    offset: int,
) -> list[Customer]:
    """Newest first; every filter given must match."""
    query = select(*_CUSTOMER_COLUMNS).where(customers.c.account_id == account_id)
    if where.uuid is not None:
        query = query.where(customers.c.uuid == where.uuid)
    if where.email is not None:
        query = query.where(customers.c.email_normalized == where.email)
    if where.number is not None:
        query = query.where(customers.c.number == where.number)
    if where.shopify_id is not None:
        owner = (
            select(identities.c.customer_uuid)
            .where(
                identities.c.account_id == account_id,
                identities.c.service == "SHOPIFY",
                identities.c.external_id == where.shopify_id,
            )
            .scalar_subquery()
        )
        query = query.where(customers.c.uuid == owner)
    query = (
        query.order_by(customers.c.created_at.desc(), customers.c.number.desc())
        .limit(limit)
        .offset(offset)
    )
    return [customer_from_row(row) for row in connection.execute(query)]


def count_customers(connection: Connection, account_id: str) -> int:
    return int(
        connection.execute(
            select(func.count()).select_from(customers).where(customers.c.account_id == account_id)
        ).scalar_one()
    )


def identity_owner(
    connection: Connection, account_id: str, service: str, external_id: str
) -> str | None:
    return connection.execute(
        select(identities.c.customer_uuid).where(
            identities.c.account_id == account_id,
            identities.c.service == service,
            identities.c.external_id == external_id,
        )
    ).scalar_one_or_none()


def set_identity(
    connection: Connection,
    account_id: str,
    customer_uuid: str,
    service: str,
    external_id: str | None,
    now: Any,
) -> None:
    connection.execute(
        delete(identities).where(
            identities.c.account_id == account_id,
            identities.c.customer_uuid == customer_uuid,
            identities.c.service == service,
        )
    )
    if external_id is not None:
        connection.execute(
            insert(identities).values(
                account_id=account_id,
                customer_uuid=customer_uuid,
                service=service,
                external_id=external_id,
                created_at=now,
            )
        )


def insert_identities(
    connection: Connection,
    account_id: str,
    customer_uuid: str,
    external_ids: dict[str, str],
    now: Any,
) -> None:
    if external_ids:
        connection.execute(
            insert(identities),
            [
                {
                    "account_id": account_id,
                    "customer_uuid": customer_uuid,
                    "service": service,
                    "external_id": external,
                    "created_at": now,
                }
                for service, external in external_ids.items()
            ],
        )


def identities_for(
    connection: Connection, account_id: str, customer_uuids: Sequence[str]
) -> dict[str, dict[str, str]]:
    """External ids per customer, by service, in their display form: one statement for a page."""
    found: dict[str, dict[str, str]] = {uuid: {} for uuid in customer_uuids}
    if not customer_uuids:
        return found
    rows = connection.execute(
        select(identities.c.customer_uuid, identities.c.service, identities.c.external_id).where(
            identities.c.account_id == account_id,
            values_in(connection, identities.c.customer_uuid, customer_uuids),
        )
    )
    for row in rows:
        found[row.customer_uuid][row.service] = display_external_id(row.service, row.external_id)
    return found


def identity_ids(account_id: str, service: str) -> Subquery:
    """(customer_uuid, external_id) of every customer with an id at ``service``."""
    return (
        select(identities.c.customer_uuid, identities.c.external_id)
        .where(identities.c.account_id == account_id, identities.c.service == service)
        .subquery("identity_ids")
    )
