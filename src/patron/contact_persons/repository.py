"""SQL for contact persons. Every statement is scoped by the account."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Subquery,
    delete,
    func,
    insert,
    select,
    update,
)

from patron.contact_persons.models import ContactPerson, ContactPersonConditions, OrderKey
from patron.contact_persons.tables import contact_persons
from patron.core.clock import as_utc
from patron.core.records import Decode, models
from patron.customers import subqueries as customer_rows


def _order_columns(owners: Subquery) -> dict[str, ColumnElement[Any]]:
    return {
        "id": contact_persons.c.id,
        "customer": owners.c.number,
        "name": contact_persons.c.name,
        "phone": contact_persons.c.phone,
        # NULLs sort differently on SQLite and PostgreSQL; an absent email sorts as "".
        "email": func.coalesce(contact_persons.c.email, ""),
        "note": contact_persons.c.note,
    }


_VALUES: tuple[tuple[str, Decode], ...] = (
    ("id", int),
    ("customer_number", int),
    ("created_at", as_utc),
    ("updated_at", as_utc),
)


def _from_row(row: Any) -> ContactPerson:
    return _from_rows([row])[0]


def _from_rows(rows: Sequence[Any]) -> list[ContactPerson]:
    made: list[ContactPerson] = models(ContactPerson, rows, _VALUES)
    return made


def _select(account_id: str, owners: Subquery) -> Select[Any]:
    """Contact persons of the account with their customer's number (``owners``, the account's
    customer numbers): one join, no N+1."""
    return (
        select(
            contact_persons.c.id,
            contact_persons.c.customer_uuid,
            owners.c.number.label("customer_number"),
            contact_persons.c.name,
            contact_persons.c.phone,
            contact_persons.c.email,
            contact_persons.c.note,
            contact_persons.c.created_at,
            contact_persons.c.updated_at,
        )
        .join(owners, owners.c.uuid == contact_persons.c.customer_uuid)
        .where(contact_persons.c.account_id == account_id)
    )


def _filtered(
    query: Select[Any], owners: Subquery, conditions: ContactPersonConditions
) -> Select[Any]:
    if conditions.customer is not None:
        query = query.where(owners.c.number == conditions.customer)
    if conditions.after is not None:
        query = query.where(contact_persons.c.id > conditions.after)
    return query


def customer_uuid_for_number(connection: Connection, account_id: str, number: int) -> str | None:
    owners = customer_rows.numbers(account_id)
    return connection.execute(
        select(owners.c.uuid).where(owners.c.number == number)
    ).scalar_one_or_none()


def insert_contact_person(connection: Connection, values: dict[str, Any]) -> None:
    connection.execute(insert(contact_persons).values(**values))


def get_contact_person(
    connection: Connection, account_id: str, contact_person_id: int
) -> ContactPerson | None:
    owners = customer_rows.numbers(account_id)
    row = connection.execute(
        _select(account_id, owners).where(contact_persons.c.id == contact_person_id)
    ).first()
    return _from_row(row) if row else None


def find_contact_persons(
    connection: Connection,
    account_id: str,
    conditions: ContactPersonConditions,
    order: Sequence[OrderKey],
    *,
    limit: int,
    offset: int,
) -> list[ContactPerson]:
    owners = customer_rows.numbers(account_id)
    columns = _order_columns(owners)
    clauses = [
        columns[part.key].desc() if part.descending else columns[part.key].asc() for part in order
    ]
    if not any(part.key == "id" for part in order):
        clauses.append(contact_persons.c.id.asc())
    query = _filtered(_select(account_id, owners), owners, conditions).order_by(*clauses)
    return _from_rows(connection.execute(query.limit(limit).offset(offset)).all())


def count_contact_persons(
    connection: Connection, account_id: str, conditions: ContactPersonConditions
) -> int:
    query = (
        select(func.count())
        .select_from(contact_persons)
        .where(contact_persons.c.account_id == account_id)
    )
    if conditions.customer is not None:
        owners = customer_rows.numbers(account_id)
        owner = select(owners.c.uuid).where(owners.c.number == conditions.customer)
        query = query.where(contact_persons.c.customer_uuid.in_(owner))
    if conditions.after is not None:
        query = query.where(contact_persons.c.id > conditions.after)
    return int(connection.execute(query).scalar_one())


def existing_ids(connection: Connection, account_id: str, ids: Sequence[int]) -> set[int]:
    rows = connection.execute(
        select(contact_persons.c.id).where(
            contact_persons.c.account_id == account_id, contact_persons.c.id.in_(list(ids))
        )
    )
    return {int(value) for value in rows.scalars()}


def update_contact_person(
    connection: Connection, account_id: str, contact_person_id: int, values: dict[str, Any]
) -> int:
    result = connection.execute(
        update(contact_persons)
        .where(
            contact_persons.c.account_id == account_id, contact_persons.c.id == contact_person_id
        )
        .values(**values)
    )
    return result.rowcount


def delete_contact_persons(connection: Connection, account_id: str, ids: Sequence[int]) -> int:
    result = connection.execute(
        delete(contact_persons).where(
            contact_persons.c.account_id == account_id, contact_persons.c.id.in_(list(ids))
        )
    )
    return result.rowcount


def for_customer(
    connection: Connection, account_id: str, customer_uuid: str
) -> list[ContactPerson]:
    owners = customer_rows.numbers(account_id)
    query = _select(account_id, owners).where(contact_persons.c.customer_uuid == customer_uuid)
    return _from_rows(connection.execute(query.order_by(contact_persons.c.id)).all())


def delete_for_customer(connection: Connection, account_id: str, customer_uuid: str) -> int:
    result = connection.execute(
        delete(contact_persons).where(
            contact_persons.c.account_id == account_id,
            contact_persons.c.customer_uuid == customer_uuid,
        )
    )
    return result.rowcount
