"""Slowing down password guessing: per email and per client address, within one login surface.

A few failures are free; after that each failure blocks the subject (15 seconds, then
twice as long for each further failure, up to 15 minutes), and a blocked subject is refused
without its password being checked. An email is counted whether or not a user has it,
so the slowdown says nothing about which emails exist.

The rule lives here because every surface that takes a password follows it (consumers'
logins, staff logins of the console); each keeps its failures in a table of its own.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from patron.core.clock import as_utc
from patron.core.errors import Forbidden, Unauthenticated


class InvalidCredentials(Unauthenticated):
    """Wrong email or password: one answer whether the email exists or not (each surface
    gives its own message)."""

    code = "INVALID_CREDENTIALS"


class TooManyAttempts(Forbidden):
    code = "TOO_MANY_ATTEMPTS"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} seconds")
        self.retry_after = retry_after


def refuse_if_blocked(until: datetime | None, now: datetime) -> None:
    """TooManyAttempts while a subject is blocked (``until``: the latest block of the
    subjects of a login, None when none is)."""
    if until is not None:
        raise TooManyAttempts(max(1, math.ceil((until - now).total_seconds())))


@dataclass(frozen=True, slots=True)
class Failures:
    """A subject's failed logins as stored: how many in the window that began at
    ``first_failed_at``, and until when it is blocked."""

    failures: int
    first_failed_at: datetime
    blocked_until: datetime | None


def failures_of(row: Any | None) -> Failures | None:
    """A stored row of failures (``failures``, ``first_failed_at``, ``blocked_until``)."""
    if row is None:
        return None
    blocked = row.blocked_until
    return Failures(
        int(row.failures),
        as_utc(row.first_failed_at),
        as_utc(blocked) if blocked is not None else None,
    )


@dataclass(frozen=True, slots=True)
class Rule:
    free_failures: int
    window: timedelta = timedelta(minutes=15)
    first_block: timedelta = timedelta(seconds=15)
    longest_block: timedelta = timedelta(minutes=15)

    def block_after(self, failures: int) -> timedelta | None:
        """How long a subject is blocked after its ``failures``-th failure in the window."""
        if failures < self.free_failures:
            return None
        doublings = min(failures - self.free_failures, 20)
        block: timedelta = self.first_block * (1 << doublings)
        return block if block < self.longest_block else self.longest_block

    def window_open(self, first_failed_at: datetime, now: datetime) -> bool:
        return now - first_failed_at < self.window

    def after_failure(self, before: Failures | None, now: datetime) -> Failures:
        """What a subject's row becomes with one more failure at ``now``: counted in the
        window still open, or the first of a new one."""
        if before is not None and self.window_open(before.first_failed_at, now):
            failures, first = before.failures + 1, before.first_failed_at
        else:
            failures, first = 1, now
        block = self.block_after(failures)
        return Failures(failures, first, now + block if block else None)


EMAIL_RULE = Rule(free_failures=5)
ADDRESS_RULE = Rule(free_failures=20)


def email_subject(email: str) -> str:
    # Hashed: the table is about guessing, it need not hold the addresses themselves.
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return f"email:{digest}"


def address_subject(address: str) -> str:
    return f"address:{address[:64]}"


def subjects(email: str, client_address: str | None) -> list[str]:
    """What a login attempt counts against: its email, and its client address when known."""
    found = [email_subject(email)]
    if client_address:
        found.append(address_subject(client_address))
    return found


def rule_for(subject: str) -> Rule:
    return EMAIL_RULE if subject.startswith("email:") else ADDRESS_RULE
