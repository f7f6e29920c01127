"""Per-token request budget inside one worker process: a fixed one-minute window."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._windows: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> int | None:
        """None when the request may go ahead, else the seconds to wait (for Retry-After)."""
        if self.per_minute <= 0:
            return None
        now = time.monotonic()
        window = int(now // 60)
        with self._lock:
            current, count = self._windows.get(key, (window, 0))
            if current != window:
                current, count = window, 0
            if count >= self.per_minute:
                return max(1, int(60 - now % 60))
            self._windows[key] = (current, count + 1)
            if len(self._windows) > 100_000:
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
        return None
