"""What the stores cannot keep: text is checked once, where it enters, never deep inside.

PostgreSQL refuses a NUL character in any text value (SQLite keeps it), so a NUL that
reached a query would fail there, far from the field that carried it. Every surface
checks its input here first and names the field in its own error shape.
"""

from __future__ import annotations

from typing import Any

NUL = "\x00"
NUL_MESSAGE = "may not contain a NUL character (\\u0000)"


def nul_path(value: Any, path: str = "") -> str | None:
    """The path of the first string (or object key) in a JSON value that holds a NUL.

    Paths read as the client wrote them: ``variables.contact.note``, ``ids[2]``.
    """
    if isinstance(value, str):
        return (path or "value") if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                return child
            found = nul_path(item, child)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def holds_nul(raw: bytes) -> bool:
    """Whether raw JSON may hold a NUL: JSON can only write one as the escape ``\\u0000``."""
    return b"\\u0000" in raw
