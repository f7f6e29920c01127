"""Running one command as one transaction, with the retries that races make necessary."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from patron.core.db import Database, is_lock_contention, is_unique_violation
from patron.core.errors import Conflict

T = TypeVar("T")

_ATTEMPTS = 3


def run_command(db: Database, command: Callable[[Connection], T]) -> T:
    """Run ``command`` in one write transaction.

    A unique-key race (two requests creating the same email, or replaying the same
    idempotency key at once) rolls the loser back whole; running it again lets its own
    checks see the winner's committed row and answer as a replay or a clear conflict.
    """
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with db.write() as connection:
                return command(connection)
        except IntegrityError as error:
            if not is_unique_violation(error):
                raise
            if attempt == _ATTEMPTS:
                raise Conflict("the request conflicts with a concurrent change; retry it") from None
        except OperationalError as error:
            if not is_lock_contention(error) or attempt == _ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover
