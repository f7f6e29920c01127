"""Per-key request budget, shared by every process on the store: a fixed one-minute window.

The count lives in the store (``patron.core.rate_windows``), so several ``patron serve``
processes, on one node or many behind a load balancer, admit at most the limit together. A
process does not ask the store on every request: it claims a block of the budget (a fiftieth
of the limit, at least 1) in one short write and spends it from memory, and once the store says
the window is spent it refuses locally until the window ends. So a key costs the store at most
about 50 writes a minute whatever its request rate, and nothing when the limit is off. What a
process has claimed and not used is lost to the others in that window: the limit may refuse a
little early (at most a fiftieth of it per process), never late.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from patron.core import rate_windows
from patron.core.db import Database

# A block is this fraction of the limit: the store sees one write per block.
BLOCKS_PER_WINDOW = 50
WINDOW_SECONDS = 60

Claim = Callable[[str, str, int, int, int], int]


class RateLimiter:
    def __init__(
        self,
        per_minute: int,
        db: Database | None = None,
        *,
        claim: Claim | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.per_minute = per_minute
        self.block = max(1, per_minute // BLOCKS_PER_WINDOW)
        self._db = db
        self._claim = claim
        self._clock = clock
        # (account, key) -> (window, requests this process may still admit; 0: spent)
        self._allowance: dict[tuple[str, str], tuple[int, int]] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()
        self._swept_window = 0

    def _claimed(self, account_id: str, key: str, window: int) -> int:
        if self._claim is not None:
            return self._claim(account_id, key, window, self.block, self.per_minute)
        assert self._db is not None
        granted = rate_windows.claim(self._db, account_id, key, window, self.block, self.per_minute)
        if self._swept_window < window:  # once a window per process: old counters go
            self._swept_window = window
            rate_windows.forget_before(self._db, window - 1)
        return granted

    def check(self, account_id: str, key: str) -> int | None:
        """None when the request may go ahead, else the seconds to wait (for Retry-After)."""
        if self.per_minute <= 0:
            return None
        now = self._clock() if self._clock is not None else time.time()
        window = int(now // WINDOW_SECONDS)
        wait = max(1, int(WINDOW_SECONDS - now % WINDOW_SECONDS))
        name = (account_id, key)
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
            if len(self._locks) > 100_000:
                self._forget(window)
        with lock:
            current, left = self._allowance.get(name, (window, -1))
            if current != window:
                left = -1  # a new window: nothing claimed in it yet
            if left == 0:
                return wait
            if left < 0:
                left = self._claimed(account_id, key, window)
                if left == 0:
                    self._allowance[name] = (window, 0)
                    return wait
            # A claim of n admits this request and n - 1 more; -1 means "claim again".
            self._allowance[name] = (window, left - 1 if left > 1 else -1)
        return None

    def admit_locally(self, account_id: str, key: str) -> bool:
        """Admit a request from what this process has already claimed, never asking the
        store: False when ``check`` must decide (a claim to make, or the budget spent)."""
        if self.per_minute <= 0:
            return True
        now = self._clock() if self._clock is not None else time.time()
        window = int(now // WINDOW_SECONDS)
        name = (account_id, key)
        lock = self._locks.get(name)
        if lock is None:
            return False
        with lock:
            current, left = self._allowance.get(name, (window, -1))
            if current != window or left <= 1:
                return False
            self._allowance[name] = (window, left - 1)
        return True

    def _forget(self, window: int) -> None:
        stale = [name for name, (seen, _) in self._allowance.items() if seen != window]
        for name in stale:
            self._allowance.pop(name, None)
            self._locks.pop(name, None)
