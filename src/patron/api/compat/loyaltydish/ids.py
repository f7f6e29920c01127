"""Global ids and cursors in the original's relay encodings.

An id is base64 of ``<Type>:<key>``: ``IUserNode:177`` for the consumer whose number is 177,
uuids for the other nodes. A consumers cursor is base64 of ``IUserNodeCursor:<number>``; the
nested lists use graphene's offset cursors, base64 of ``arrayconnection:<offset>``.
"""

from __future__ import annotations

import base64
import binascii
import re

from patron.core.errors import InvalidInput

USER = "IUserNode"
REDEMPTION = "RedemptionNode"
ORDER = "OrderNode"
PROMOTION = "PromotionNode"
STORE = "StoreNode"
_USER_CURSOR = "IUserNodeCursor"
_OFFSET = "arrayconnection"
_MAX_LENGTH = 200
_UUID = re.compile(r"^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$")
_MAX_NUMBER = 2**63 - 1


def encode(kind: str, key: object) -> str:
    return base64.b64encode(f"{kind}:{key}".encode()).decode()


def _decoded(value: str) -> tuple[str, str] | None:
    if not value or len(value) > _MAX_LENGTH:
        return None
    try:
        text = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    kind, separator, key = text.partition(":")
    return (kind, key) if separator else None


def kind_of(value: str) -> str | None:
    """The type named in a relay id, or None when it is not one."""
    decoded = _decoded(value)
    return decoded[0] if decoded is not None else None


def _number(key: str) -> int | None:
    if not key.isascii() or not key.isdigit() or len(key) > 19 or int(key) > _MAX_NUMBER:
        return None
    return int(key)


def user_number(value: str, *, field: str = "id") -> int:
    """The consumer number of an ``IUserNode`` id."""
    decoded = _decoded(value)
    number = _number(decoded[1]) if decoded is not None and decoded[0] == USER else None
    if number is None:
        raise InvalidInput(
            f"{field} '{value[:100]}' is not an IUserNode id (base64 of 'IUserNode:<pk>')",
            field=field,
        )
    return number


def uuid_of(kind: str, value: str, *, field: str) -> str:
    """The uuid in a ``<kind>:<uuid>`` id; a bare uuid is taken as it is."""
    if _UUID.match(value.lower()):
        return value.lower()
    decoded = _decoded(value)
    if decoded is None or decoded[0] != kind or not _UUID.match(decoded[1]):
        raise InvalidInput(f"{field} '{value[:100]}' is not a {kind} id", field=field)
    return decoded[1]


def user_cursor(number: int) -> str:
    return encode(_USER_CURSOR, number)


def user_cursor_number(value: str, *, field: str) -> int:
    decoded = _decoded(value)
    number = _number(decoded[1]) if decoded is not None and decoded[0] == _USER_CURSOR else None
    if number is None:
        raise InvalidInput(f"{field} '{value[:100]}' is not a cursor of this list", field=field)
    return number


def offset_cursor(offset: int) -> str:
    return encode(_OFFSET, offset)


def cursor_offset(value: str, *, field: str) -> int:
    decoded = _decoded(value)
    offset = _number(decoded[1]) if decoded is not None and decoded[0] == _OFFSET else None
    if offset is None:
        raise InvalidInput(f"{field} '{value[:100]}' is not a cursor of this list", field=field)
    return offset
