"""Per-account numbers without a hot row lock: blocks reserved in their own short transaction.

A counter row updated inside every create would be locked until that create commits, so
concurrent creates in one account would queue behind each other's whole transaction. On
PostgreSQL each process instead reserves a block of numbers in a separate, immediately
committed statement and hands them out from memory. Numbers stay unique and increasing per
process; a restart leaves a gap. SQLite runs one writer at a time, so there the counter is
simply bumped inside the caller's transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Connection

BLOCK_SIZE = 20


class NumberBlocks:
    def __init__(self, block_size: int = BLOCK_SIZE) -> None:
        self.block_size = block_size
        self._lock = threading.Lock()
        self._blocks: dict[tuple[str, str, str], tuple[int, int]] = {}

    def next(
        self,
        connection: Connection,
        account_id: str,
        name: str,
        reserve: Callable[[Connection, int], int],
    ) -> int:
        """The next number; ``reserve(connection, n)`` adds n to the counter, returns its value."""
        if connection.dialect.name == "sqlite":
            return reserve(connection, 1)
        key = (str(connection.engine.url), account_id, name)
        # Held while a block is reserved too (a rare, one-statement transaction), so that
        # threads of one process share a block rather than each reserving its own.
        with self._lock:
            current, last = self._blocks.get(key, (0, -1))
            if current > last:
                with connection.engine.connect() as own:
                    own.execution_options(isolation_level="AUTOCOMMIT")
                    last = reserve(own, self.block_size)
                current = last - self.block_size + 1
            self._blocks[key] = (current + 1, last)
            return current


blocks = NumberBlocks()
