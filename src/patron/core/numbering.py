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

from sqlalchemy import Connection, Update

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
        reserve: Callable[[int], Update],
    ) -> int:
        """The next number; ``reserve(n)`` must add n to the counter and return its new value."""
        if connection.dialect.name == "sqlite":
            return int(connection.execute(reserve(1)).scalar_one())
        key = (str(connection.engine.url), account_id, name)
        with self._lock:
            current, last = self._blocks.get(key, (0, -1))
            if current <= last:
                self._blocks[key] = (current + 1, last)
                return current
        with connection.engine.connect() as own:
            own.execution_options(isolation_level="AUTOCOMMIT")
            top = int(own.execute(reserve(self.block_size)).scalar_one())
        first = top - self.block_size + 1
        with self._lock:
            self._blocks[key] = (first + 1, top)
        return first


blocks = NumberBlocks()
