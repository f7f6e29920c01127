"""Offset pages: out-of-range requests are errors, never silently cut."""

from __future__ import annotations

from patron.core.errors import InvalidInput

MAX_PAGE = 250


def check_page(
    limit: int | None, offset: int | None, *, default: int = 50, maximum: int = MAX_PAGE
) -> tuple[int, int]:
    size = default if limit is None else limit
    start = 0 if offset is None else offset
    if not 0 <= size <= maximum:
        raise InvalidInput(f"limit must be between 0 and {maximum}, got {size}", field="limit")
    if start < 0:
        raise InvalidInput(f"offset must be 0 or more, got {start}", field="offset")
    return size, start
