"""``commerce.contacts.*``: each method parses its request, calls one core function, answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from patron.accounts.principal import Principal
from patron.api.compat.commerce.protocol import (
    FIELDS,
    contact,
    integer,
    malformed,
    names,
    obj,
    required,
    text,
)
from patron.contact_persons import service
from patron.contact_persons.errors import ContactPersonNotFound
from patron.contact_persons.models import (
    ORDER_KEYS,
    ContactPersonChanges,
    ContactPersonConditions,
    ContactPersonQuery,
    NewContactPerson,
    OrderKey,
)
from patron.core.db import Database

Method = Callable[[Database, Principal, dict[str, Any]], dict[str, Any]]
_CONTACT = ("customer", "name", "phone", "email", "note")


def _conditions(body: dict[str, Any]) -> ContactPersonConditions:
    given = body.get("conditions")
    if given is None:
        return ContactPersonConditions()
    conditions = obj(given, "conditions", allowed=("customer", "after"))
    customer, after = conditions.get("customer"), conditions.get("after")
    return ContactPersonConditions(
        customer=None if customer is None else integer(customer, "customer"),
        after=None if after is None else integer(after, "after"),
    )


def _fields(body: dict[str, Any]) -> list[str]:
    given = body.get("fields")
    if given is None:
        return list(FIELDS)
    chosen = names(given, "fields", FIELDS)
    return [name for name in FIELDS if name in chosen] or list(FIELDS)


def _optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    return None if value is None else integer(value, key)


def _email(value: Any) -> str | None:
    """Email may be null; an empty one, as the original's forms send it, is none too."""
    if value is None:
        return None
    email = text(value, "email")
    return email if email.strip() else None


def _contact_values(given: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in given.items():
        if key == "customer":
            values[key] = integer(value, key)
        elif key == "email":
            values[key] = _email(value)
        else:
            values[key] = text(value, key)
    return values


def find(db: Database, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    obj(body, "request", allowed=("conditions", "fields", "order", "limit", "first"))
    order = body.get("order")
    query = ContactPersonQuery(
        conditions=_conditions(body),
        order=tuple(
            OrderKey(key.removeprefix("-"), key.startswith("-"))
            for key in (names(order, "order", ORDER_KEYS, signed=True) if order else [])
        ),
        limit=_optional_int(body, "limit"),
        first=_optional_int(body, "first"),
    )
    fields = _fields(body)
    with db.read_latest() as connection:
        found = service.find_contact_persons(connection, principal, query)
    return {"status": "ok", "contacts": [contact(person, fields) for person in found]}


def get(db: Database, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    obj(body, "request", allowed=("id", "fields"))
    person_id = integer(required(body, "id"), "id")
    fields = _fields(body)
    with db.read_latest() as connection:
        try:
            found = service.get_contact_person(connection, principal, person_id)
        except ContactPersonNotFound:
            return {"status": "ok", "contact": None}
    return {"status": "ok", "contact": contact(found, fields)}


def count(db: Database, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    obj(body, "request", allowed=("conditions",))
    conditions = _conditions(body)
    with db.read_latest() as connection:
        counted = service.count_contact_persons(connection, principal, conditions)
    return {"status": "ok", "count": counted}


def create(db: Database, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    obj(body, "request", allowed=("contact",))
    given = obj(required(body, "contact"), "contact", allowed=_CONTACT)
    required(given, "customer")
    required(given, "name")
    values = _contact_values(given)
    created = service.create_contact_person(
        db,
        principal,
        NewContactPerson(
            customer=values["customer"],
            name=values["name"],
            phone=values.get("phone", ""),
            email=values.get("email"),
            note=values.get("note", ""),
        ),
    )
    return {"status": "ok", "id": created.id}


def update(db: Database, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    obj(body, "request", allowed=("id", "contact"))
    person_id = integer(required(body, "id"), "id")
    given = obj(required(body, "contact"), "contact", allowed=_CONTACT)
    service.update_contact_person(
        db, principal, person_id, ContactPersonChanges(_contact_values(given))
    )
    return {"status": "ok"}


def delete(db: Database, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    obj(body, "request", allowed=("ids",))
    ids = required(body, "ids")
    if not isinstance(ids, list):
        raise malformed("ids", "ids must be a list of integers")
    service.delete_contact_persons(db, principal, [integer(value, "ids") for value in ids])
    return {"status": "ok"}


METHODS: dict[str, tuple[Method, str]] = {
    "find": (find, "read"),
    "get": (get, "read"),
    "count": (count, "read"),
    "create": (create, "write"),
    "update": (update, "write"),
    "delete": (delete, "write"),
}
