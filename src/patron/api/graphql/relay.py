"""Relay on the native API: global ids (``Query.node``) and opaque cursors for connections.

A global id is base64 of ``<Type>:<uuid>`` (``Q29udGFjdDo…`` for a Contact); a cursor is
base64 of a small JSON list naming the position of a row in its ordering. Both are checked
when read back: anything else is a clear error naming the argument, never a crash.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import strawberry

from patron.core.errors import InvalidInput

NODE_TYPES = ("Contact", "Wallet", "CreditEntry", "RedemptionCode", "Order", "Promotion")
MAX_ID_LENGTH = 200
MAX_CURSOR_LENGTH = 500


def global_id(type_name: str, uuid: str) -> str:
    return base64.b64encode(f"{type_name}:{uuid}".encode()).decode()


def parse_global_id(value: str, *, field: str = "id") -> tuple[str, str]:
    """(type name, uuid) of a global id, or InvalidInput."""
    problem = InvalidInput(f"{field} '{value[:100]}' is not a Patron global id", field=field)
    if len(value) > MAX_ID_LENGTH:
        raise problem
    try:
        text = base64.b64decode(value, validate=True).decode()
    except ValueError:  # bad base64, text that is not ASCII or not UTF-8
        raise problem from None
    kind, _, uuid = text.partition(":")
    if kind not in NODE_TYPES or not uuid:
        raise problem
    return kind, uuid


@strawberry.interface(description="An object with a global id, found again by Query.node.")
class Node:
    @strawberry.field(description="Global id: base64 of '<Type>:<uuid>'.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(global_id(type(self).__name__, self.uuid))  # type: ignore[attr-defined]


def encode_cursor(*position: Any) -> str:
    raw = json.dumps(list(position), separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str, size: int, *, field: str = "after") -> list[Any]:
    """The position a cursor holds (a list of ``size`` values), or InvalidInput."""
    problem = InvalidInput(f"{field} '{cursor[:100]}' is not a cursor of this list", field=field)
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise problem
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise problem from None
    if not isinstance(decoded, list) or len(decoded) != size:
        raise problem
    return decoded


@strawberry.type(description="Where a page of a connection starts and ends.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


def page_size(first: int | None, *, default: int = 50, maximum: int = 250) -> int:
    size = default if first is None else first
    if not 1 <= size <= maximum:
        raise InvalidInput(f"first must be between 1 and {maximum}, got {size}", field="first")
    return size
