"""Accounts as the worker's handlers see them: read once per account per few seconds.

Every handler looks at the account of every event (is it connected to Shopify? to Klaviyo?).
Read from the store each time, a batch of a hundred wallet events cost three hundred reads;
shared and kept for ``seconds``, it costs one. A changed connection takes effect within it,
as a changed webhook does.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from patron.accounts import service as accounts
from patron.accounts.service import Account
from patron.core.db import Database
from patron.core.errors import NotFound


@dataclass
class AccountCache:
    db: Database
    seconds: float = 2.0
    _found: dict[str, tuple[float, Account | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, account_id: str) -> Account | None:
        """The account, or None when it is gone."""
        now = time.monotonic()
        with self._lock:
            cached = self._found.get(account_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            account: Account | None = accounts.get_account(self.db, account_id)
        except NotFound:
            account = None
        with self._lock:
            if len(self._found) > 10_000:
                self._found.clear()
            self._found[account_id] = (now + self.seconds, account)
        return account
