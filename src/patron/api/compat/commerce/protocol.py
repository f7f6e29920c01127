"""The wire shapes of the commerce RPC dialect, and the one place errors take them.

A refused call is HTTP 200 ``{"status": "error", "error": {"field", "type", "description"}}``
with the original's types; transport problems (key, method, rate) are HTTP errors.
"""

from __future__ import annotations

from typing import Any

from patron.contact_persons.errors import ContactPersonNotFound, CustomerNotFound
from patron.contact_persons.models import ContactPerson
from patron.contact_persons.service import UNKNOWN_KEY
from patron.core.errors import DomainError, NotFound, ValidationErrors

NOT_FOUND = "NotFound"
INVALID_VALUE = "InvalidValue"
MISSING = "Missing"
MALFORMED = "Malformed"
UNKNOWN_FIELD = "UnknownField"

FIELDS = ("id", "customer", "name", "phone", "email", "note")


class CommerceError(Exception):
    """A call refused with one of the original's error types; nothing was changed."""

    def __init__(self, field: str | None, type_: str, description: str) -> None:
        super().__init__(description)
        self.field = field
        self.type = type_
        self.description = description

    def body(self) -> dict[str, Any]:
        return {
            "status": "error",
            "error": {"field": self.field, "type": self.type, "description": self.description},
        }


def from_domain(error: DomainError) -> CommerceError:
    """A core refusal in the original's words."""
    if isinstance(error, ValidationErrors):
        error = error.errors[0]
    if isinstance(error, CustomerNotFound):
        return CommerceError(error.field, NOT_FOUND, f"Customer {error.number} does not exist")
    if isinstance(error, ContactPersonNotFound):
        listed = ", ".join(str(value) for value in error.ids)
        if len(error.ids) == 1:
            return CommerceError(error.field, NOT_FOUND, f"Contact {listed} does not exist")
        return CommerceError(error.field, NOT_FOUND, f"Contacts {listed} do not exist")
    if isinstance(error, NotFound):
        return CommerceError(error.field, NOT_FOUND, error.message)
    if error.code == UNKNOWN_KEY:
        return CommerceError(error.field, UNKNOWN_FIELD, error.message)
    return CommerceError(error.field, INVALID_VALUE, error.message)


def malformed(field: str | None, description: str) -> CommerceError:
    return CommerceError(field, MALFORMED, description)


def obj(value: Any, field: str, *, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise malformed(field, f"{field} must be an object")
    for key in value:
        if key not in allowed:
            raise CommerceError(field, UNKNOWN_FIELD, f"{field} has no field '{key}'")
    return value


def required(body: dict[str, Any], key: str) -> Any:
    if key not in body or body[key] is None:
        raise CommerceError(key, MISSING, f"{key} is required")
    return body[key]


def integer(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise malformed(field, f"{field} must be an integer")
    return value


def text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise malformed(field, f"{field} must be a string")
    return value


def names(value: Any, field: str, allowed: tuple[str, ...], *, signed: bool = False) -> list[str]:
    """A list of field names (``-name`` for descending when ``signed``); unknown ones refused."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise malformed(field, f"{field} must be a list of strings")
    for item in value:
        name = item[1:] if signed and item.startswith("-") else item
        if name not in allowed:
            raise CommerceError(field, UNKNOWN_FIELD, f"unknown field '{item}' in {field}")
    return list(value)


def contact(person: ContactPerson, fields: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": person.id,
        "customer": person.customer_number,
        "name": person.name,
        "phone": person.phone,
        "email": person.email,
        "note": person.note,
    }
    return {name: values[name] for name in fields}
