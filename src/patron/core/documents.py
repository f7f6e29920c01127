"""Free-form JSON a client may store (a customer's extra info, an order's lines), bounded.

Checked once where it is accepted, without recursion, so that what is stored can always be
written back: depth and size far within what the JSON writers and both stores handle.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from patron.core.errors import InvalidInput
from patron.core.text import NUL, NUL_MESSAGE

MAX_DEPTH = 16


def check_document(value: Any, *, field: str, max_characters: int) -> Any:
    """``value`` as given, or InvalidInput naming ``field`` and what is wrong with it."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list) and depth > MAX_DEPTH:
            raise InvalidInput(f"{field} is nested deeper than {MAX_DEPTH} levels", field=field)
        if isinstance(item, dict):
            for key, child in item.items():
                _check_leaf(key, field, key=True)
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        else:
            _check_leaf(item, field)
    if len(orjson.dumps(value)) > max_characters:
        raise InvalidInput(
            f"{field} must be at most {max_characters:,} characters of JSON", field=field
        )
    return value


def _check_leaf(item: Any, field: str, *, key: bool = False) -> None:
    if isinstance(item, str):
        if NUL in item:
            raise InvalidInput(f"{field} {NUL_MESSAGE}", field=field)
    elif key:
        raise InvalidInput(f"{field} must be plain JSON", field=field)
    elif isinstance(item, float):
        if not math.isfinite(item):
            raise InvalidInput(f"{field} may hold only finite numbers", field=field)
    elif isinstance(item, int) and not isinstance(item, bool):
        if abs(item) >= 2**63:
            raise InvalidInput(f"{field} holds a number out of range", field=field)
    elif item is not None and not isinstance(item, bool):
        raise InvalidInput(f"{field} must be plain JSON", field=field)
