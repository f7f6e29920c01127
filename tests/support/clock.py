"""A clock that tests move by hand: every Patron module that asks for the time sees it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import pytest

from patron.core import clock

# A fixed, whole-second start, so that times in answers can be asserted exactly.
START = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)


class FrozenClock:
    """Replaces ``patron.core.clock.utcnow`` and every ``utcnow`` imported from it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: datetime = START) -> None:
        self.now = start
        original = clock.utcnow
        monkeypatch.setattr(clock, "utcnow", self)
        for name, module in list(sys.modules.items()):
            if name.startswith("patron.") and getattr(module, "utcnow", None) is original:
                monkeypatch.setattr(module, "utcnow", self)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def later(self, **delta: float) -> datetime:
        """A moment ``delta`` from now, without moving the clock."""
        return self.now + timedelta(**delta)
