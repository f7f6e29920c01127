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


# The variant's nibble (binary 10xx) from a random hex digit's two low bits.
_VARIANT_NIBBLE = dict(zip("0123456789abcdef", "89ab89ab89ab89ab", strict=True))


def new_uuid() -> str:
    """A new UUID of version 7 (RFC 9562): the time in milliseconds, then 74 random bits.

    For the rows written all day long (ledger entries, outbox events, orders): a random
    (version 4) uuid puts each on its own page of every index over it, which grows out of
    memory with the table; these land at the end of the index, as they come."""
    return _version_7(_time_prefix(), os.urandom(10).hex(), 0)


def _time_prefix() -> str:
    """A version-7 uuid's first digits: now in milliseconds, and the version."""
    millis = f"{time.time_ns() // 1_000_000:012x}"
    return f"{millis[:8]}-{millis[8:]}-7"


def _version_7(prefix: str, noise: str, at: int) -> str:
    """The uuid of ``prefix`` (``_time_prefix``) and the 19 random hex digits of ``noise``
    from ``at`` (12 + 2 + 60 bits used of each 20 digits' 80), the variant's nibble set."""
    return (
        f"{prefix}{noise[at : at + 3]}-{_VARIANT_NIBBLE[noise[at + 3]]}{noise[at + 4 : at + 7]}-"
        f"{noise[at + 7 : at + 19]}"
    )


def time_ordered_uuids(count: int) -> list[str]:
    """``count`` new UUIDs of version 7 (RFC 9562), ascending: the time in milliseconds,
    then 74 random bits.

    For rows a bulk job inserts by the thousand. With random (version 4) uuids each row lands
    on its own page of every index over a uuid, so a batch rewrites a share of those indexes
    that grows with the table (on SQLite, every such page goes through the WAL at each
    commit); these land at the end of the index, a few pages per batch.

    Written as text straight from random hex digits (the milliseconds' part is the same for
    all): lowercase hex of one length sorts as the numbers do, so the texts are sorted."""
    if count <= 0:
        return []
    prefix = _time_prefix()
    noise = os.urandom(10 * count).hex()  # 20 digits a uuid, 19 used
    return sorted([_version_7(prefix, noise, at) for at in range(0, 20 * count, 20)])
