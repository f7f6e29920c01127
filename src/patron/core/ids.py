"""The shape of the ids Patron hands out, checked before any lookup."""

from __future__ import annotations

import re

_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def is_uuid(value: str) -> bool:
    """Whether ``value`` could name a stored row; anything else is simply not found.

    Checked before any lookup: PostgreSQL refuses a NUL byte in a parameter outright.
    """
    return _UUID.match(value) is not None
