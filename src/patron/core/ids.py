"""The shape of the ids Patron hands out, checked before any lookup."""

from __future__ import annotations

import os
import re
import time

_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def is_uuid(value: str) -> bool:
    """Whether ``value`` could name a stored row; anything else is simply not found.

    Checked before any lookup: PostgreSQL refuses a NUL byte in a parameter outright.
    """
    return _UUID.match(value) is not None


_VERSION_7 = 0x7 << 76
_VARIANT = 0x2 << 62
_RANDOM_A = 0xFFF << 64
_RANDOM_B = (1 << 62) - 1


def time_ordered_uuids(count: int) -> list[str]:
    """``count`` new UUIDs of version 7 (RFC 9562), ascending: the time in milliseconds,
    then 74 random bits.

    For rows a bulk job inserts by the thousand. With random (version 4) uuids each row lands
    on its own page of every index over a uuid, so a batch rewrites a share of those indexes
    that grows with the table (on SQLite, every such page goes through the WAL at each
    commit); these land at the end of the index, a few pages per batch."""
    if count <= 0:
        return []
    stamp = (time.time_ns() // 1_000_000) << 80 | _VERSION_7 | _VARIANT
    noise = os.urandom(10 * count)
    numbers = sorted(
        stamp
        | (bits << 2 & _RANDOM_A)  # 12 bits after the version
        | (bits & _RANDOM_B)  # 62 bits after the variant
        for bits in (
            int.from_bytes(noise[start : start + 10]) for start in range(0, 10 * count, 10)
        )
    )
    found = []
    for number in numbers:
        text = f"{number:032x}"
        found.append(f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}")
    return found
