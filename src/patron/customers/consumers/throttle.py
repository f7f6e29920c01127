"""Slowing down password guessing: per email and per client address, within one account.

A few failures are free; after that each failure blocks the subject (15 seconds, then
twice as long for each further failure, up to 15 minutes), and a blocked subject is refused
without its password being checked. An email is counted whether or not a consumer has it,
so the slowdown says nothing about which emails exist.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta


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


EMAIL_RULE = Rule(free_failures=5)
ADDRESS_RULE = Rule(free_failures=20)


def email_subject(email: str) -> str:
    # Hashed: the table is about guessing, it need not hold the addresses themselves.
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return f"email:{digest}"


def address_subject(address: str) -> str:
    return f"address:{address[:64]}"


def rule_for(subject: str) -> Rule:
    return EMAIL_RULE if subject.startswith("email:") else ADDRESS_RULE
