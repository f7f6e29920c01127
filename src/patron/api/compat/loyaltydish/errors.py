"""The one place where domain errors become the dialect's ``errors`` of a mutation payload.

The original (django-graphql-auth) answers ``{"<field>": [{"message", "code"}]}`` with
``nonFieldErrors`` for what concerns no single field; codes are lower-case.
"""

from __future__ import annotations

from typing import Any

from patron.core.errors import DomainError, ValidationErrors

NON_FIELD = "nonFieldErrors"

# Core field names (as the core's messages name them) and the dialect's argument names.
FIELD_NAMES = {
    "firstName": "firstname",
    "lastName": "lastname",
    "phone": "phoneNumber",
    "addressLine1": "street",
    "postalCode": "zipCode",
    "source": "entitySource",
    "sourceId": "entitySourceId",
}


def expected_errors(error: DomainError) -> dict[str, list[dict[str, Any]]]:
    parts = error.errors if isinstance(error, ValidationErrors) else [error]
    found: dict[str, list[dict[str, Any]]] = {}
    for part in parts:
        field = FIELD_NAMES.get(part.field or "", part.field) or NON_FIELD
        found.setdefault(field, []).append({"message": part.message, "code": part.code.lower()})
    return found
