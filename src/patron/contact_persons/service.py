"""Contact person commands and reads: one transaction per command, an outbox event for each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection

from patron.accounts.principal import Principal
from patron.contact_persons import repository
from patron.contact_persons.errors import ContactPersonNotFound, CustomerNotFound
from patron.contact_persons.models import (
    ORDER_KEYS,
    ContactPerson,
    ContactPersonChanges,
    ContactPersonConditions,
    ContactPersonQuery,
    NewContactPerson,
    OrderKey,
)
from patron.core.clock import utcnow
from patron.core.counters import next_value
from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.core.events import record_event
from patron.core.unit import run_command

DEFAULT_LIMIT = 50
MAX_LIMIT = 250
MAX_DELETE = 1000
# Ids and numbers are BIGINT: anything larger cannot exist, and must not reach the driver.
_MAX_ID = 2**63 - 1
_COUNTER = "contact_person"
UNKNOWN_KEY = "UNKNOWN_KEY"

# field -> (shortest, longest) after surrounding whitespace is removed
_LENGTHS = {"name": (1, 50), "phone": (0, 15), "email": (3, 120), "note": (0, 255)}
_CHANGEABLE = ("customer", "name", "phone", "email", "note")


def _integer(value: object, field: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be an integer", field=field)
    if not minimum <= value <= _MAX_ID:
        raise InvalidInput(f"{field} must be an integer of {minimum} or more", field=field)
    return value


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    shortest, longest = _LENGTHS[field]
    text = value.strip()
    if not shortest <= len(text) <= longest:
        raise InvalidInput(
            f"{field} must be {shortest} to {longest} characters long, got {len(text)}",
            field=field,
        )
    if any(ord(char) < 32 and char not in "\t\n" for char in text):
        raise InvalidInput(f"{field} must not contain control characters", field=field)
    return text


def _email(value: object) -> str | None:
    if value is None:
        return None
    text = _text(value, "email")
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidInput(f"'{text}' is not a well formed email address", field="email") from None
    return text


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """The changeable fields given, checked; a failure names its field and rule."""
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if key == "customer":
            cleaned[key] = _integer(value, "customer", minimum=1)
        elif key == "email":
            cleaned[key] = _email(value)
        elif key in _LENGTHS:
            cleaned[key] = _text(value, key)
        else:
            raise InvalidInput(f"unknown contact person field '{key}'", field=key, code=UNKNOWN_KEY)
    return cleaned


def _conditions(conditions: ContactPersonConditions) -> ContactPersonConditions:
    return ContactPersonConditions(
        customer=None
        if conditions.customer is None
        else _integer(conditions.customer, "customer", minimum=1),
        after=None if conditions.after is None else _integer(conditions.after, "after", minimum=0),
    )


def _order(order: Sequence[OrderKey]) -> list[OrderKey]:
    seen: set[str] = set()
    for part in order:
        if part.key not in ORDER_KEYS:
            raise InvalidInput(
                f"order key '{part.key}' is not one of {', '.join(ORDER_KEYS)}",
                field="order",
                code=UNKNOWN_KEY,
            )
        if part.key in seen:
            raise InvalidInput(f"order key '{part.key}' is given twice", field="order")
        seen.add(part.key)
    return list(order)


def _customer_uuid(connection: Connection, principal: Principal, number: int) -> str:
    customer_uuid = repository.customer_uuid_for_number(connection, principal.account_id, number)
    if customer_uuid is None:
        raise CustomerNotFound(number)
    return customer_uuid


def _event(person: ContactPerson) -> dict[str, Any]:
    return {
        "contact_person_id": person.id,
        "contact_uuid": person.customer_uuid,
        "customer_number": person.customer_number,
    }


def find_contact_persons(
    connection: Connection, principal: Principal, query: ContactPersonQuery
) -> list[ContactPerson]:
    """The contact persons that meet the conditions, in the order asked, id breaking ties."""
    conditions = _conditions(query.conditions)
    order = _order(query.order)
    limit = DEFAULT_LIMIT if query.limit is None else _integer(query.limit, "limit", minimum=1)
    if limit > MAX_LIMIT:
        raise InvalidInput(f"limit must be 1 to {MAX_LIMIT}, got {limit}", field="limit")
    first = 0 if query.first is None else _integer(query.first, "first", minimum=0)
    return repository.find_contact_persons(
        connection, principal.account_id, conditions, order, limit=limit, offset=first
    )


def count_contact_persons(
    connection: Connection, principal: Principal, conditions: ContactPersonConditions
) -> int:
    return repository.count_contact_persons(
        connection, principal.account_id, _conditions(conditions)
    )


def get_contact_person(
    connection: Connection, principal: Principal, contact_person_id: int
) -> ContactPerson:
    person_id = _integer(contact_person_id, "id", minimum=1)
    found = repository.get_contact_person(connection, principal.account_id, person_id)
    if found is None:
        raise ContactPersonNotFound([person_id])
    return found


def create_contact_person(
    db: Database, principal: Principal, command: NewContactPerson
) -> ContactPerson:
    """A new contact person of an existing customer, with the account's next id."""
    principal.require("write")
    values = _clean(
        {
            "customer": command.customer,
            "name": command.name,
            "phone": command.phone,
            "email": command.email,
            "note": command.note,
        }
    )

    fields = {key: value for key, value in values.items() if key != "customer"}

    def write(connection: Connection) -> ContactPerson:
        # Run again after a lost race for a new counter row: it must not change its inputs.
        customer_uuid = _customer_uuid(connection, principal, values["customer"])
        person_id = next_value(connection, principal.account_id, _COUNTER)
        now = utcnow()
        repository.insert_contact_person(
            connection,
            {
                "account_id": principal.account_id,
                "id": person_id,
                "customer_uuid": customer_uuid,
                **fields,
                "created_at": now,
                "updated_at": now,
            },
        )
        created = repository.get_contact_person(connection, principal.account_id, person_id)
        assert created is not None
        record_event(connection, principal.account_id, "contact_person.created", _event(created))
        return created

    return run_command(db, write)


def update_contact_person(
    db: Database, principal: Principal, contact_person_id: int, changes: ContactPersonChanges
) -> ContactPerson:
    """Change only the fields given; the others stay as they are."""
    principal.require("write")
    person_id = _integer(contact_person_id, "id", minimum=1)
    values = _clean(changes.values)

    def write(connection: Connection) -> ContactPerson:
        if repository.get_contact_person(connection, principal.account_id, person_id) is None:
            raise ContactPersonNotFound([person_id])
        row: dict[str, Any] = {key: value for key, value in values.items() if key != "customer"}
        if "customer" in values:
            row["customer_uuid"] = _customer_uuid(connection, principal, values["customer"])
        row["updated_at"] = utcnow()
        if not repository.update_contact_person(connection, principal.account_id, person_id, row):
            raise ContactPersonNotFound([person_id])  # deleted concurrently
        updated = repository.get_contact_person(connection, principal.account_id, person_id)
        assert updated is not None
        payload = _event(updated)
        payload["changed_fields"] = sorted(values)
        record_event(connection, principal.account_id, "contact_person.updated", payload)
        return updated

    return run_command(db, write)


def delete_contact_persons(db: Database, principal: Principal, ids: Sequence[int]) -> None:
    """Delete every id given, or, when any of them does not exist, none."""
    principal.require("write")
    if not ids:
        raise InvalidInput("ids must name at least one contact person", field="ids")
    if len(ids) > MAX_DELETE:
        raise InvalidInput(f"ids must name at most {MAX_DELETE} contact persons", field="ids")
    wanted = list(dict.fromkeys(_integer(value, "ids", minimum=1) for value in ids))

    def write(connection: Connection) -> None:
        present = repository.existing_ids(connection, principal.account_id, wanted)
        missing = [value for value in wanted if value not in present]
        if missing:
            raise ContactPersonNotFound(missing, field="ids")
        deleted = repository.delete_contact_persons(connection, principal.account_id, wanted)
        if deleted != len(wanted):
            raise ContactPersonNotFound(wanted, field="ids")  # a concurrent delete won
        record_event(
            connection, principal.account_id, "contact_person.deleted", {"ids": sorted(wanted)}
        )

    run_command(db, write)


# For a customer's erasure and subject access, inside the caller's transaction


def contact_persons_of(
    connection: Connection, principal: Principal, customer_uuid: str
) -> list[ContactPerson]:
    """Every contact person of the customer, by id."""
    return repository.for_customer(connection, principal.account_id, customer_uuid)


def forget_customer(connection: Connection, principal: Principal, customer_uuid: str) -> int:
    """Delete every contact person of a customer being erased; returns how many."""
    return repository.delete_for_customer(connection, principal.account_id, customer_uuid)
