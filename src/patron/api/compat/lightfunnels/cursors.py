"""Opaque cursors and ids in Lightfunnels' own encodings.

A cursor is base64 of the JSON pair ``[sort value, customer number]`` (ordered by id this is
``[191350,191350]``, exactly as Lightfunnels writes it); an id is base64 of ``Customer:<number>``.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from patron.core.errors import InvalidInput
from patron.customers.search import Keyset, keyset

# The cursor printed in the seed's CustomersQuery example is not valid base64: a placeholder
# of the documentation, not a position. A client that copies the example gets the first page.
DOCUMENTED_EXAMPLE_CURSOR = "WzVE4OTA5LDEe/4OTA5XQ=="
_MAX_CURSOR = 2000
_TYPE = "Customer"


def encode_cursor(key: Keyset) -> str:
    value = key.value.isoformat() if isinstance(key.value, datetime) else key.value
    raw = json.dumps([value, key.number], separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(raw.encode()).decode()


def decode_cursor(cursor: str | None, order_by: str) -> Keyset | None:
    """The position a cursor names in a list ordered by ``order_by`` (a core sort key)."""
    if cursor is None or cursor in {"", DOCUMENTED_EXAMPLE_CURSOR}:
        return None
    problem = InvalidInput(f"after '{cursor[:100]}' is not a cursor of this list", field="after")
    if len(cursor) > _MAX_CURSOR:
        raise problem
    try:
        decoded = json.loads(base64.b64decode(cursor, validate=True))
    except (binascii.Error, ValueError):
        raise problem from None
    if not isinstance(decoded, list) or len(decoded) != 2:
        raise problem
    return keyset(order_by, decoded[0], decoded[1])


def encode_id(number: int) -> str:
    return encode_node_id(_TYPE, number)


def encode_node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"{kind}:{number}".encode()).decode()


def decode_id(value: str, *, field: str = "id") -> int:
    """The customer number in a ``Customer:<number>`` id."""
    problem = InvalidInput(f"{field} '{value[:100]}' is not a Customer id", field=field)
    if len(value) > 100:
        raise problem
    try:
        text = base64.b64decode(value, validate=True).decode()
    except ValueError:  # bad base64, text that is not ASCII or not UTF-8
        raise problem from None
    kind, _, number = text.partition(":")
    if kind != _TYPE or not number.isascii() or not number.isdigit() or len(number) > 18:
        raise problem
    return int(number)
