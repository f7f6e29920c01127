"""The dispatcher: claim a batch, deliver each event with no transaction open, settle the batch.

Handlers do the delivering. Each returns an outcome: delivered, retry (a network error, a
timeout, a 5xx or a 429) or dead (anything a retry cannot fix). Retries back off
exponentially with jitter until ``max_attempts``; then the event is parked as dead with its
last error, for an operator to look at and ``patron outbox retry``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol, runtime_checkable

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.integrations.outbox import store
from patron.integrations.outbox.store import OutboxEvent, Settlement

log = logging.getLogger("patron.outbox")


@dataclass(frozen=True, slots=True)
class Delivered:
    pass


@dataclass(frozen=True, slots=True)
class Retry:
    error: str
    # What the receiver asked for (Retry-After, a throttle's restore time), in seconds: the
    # retry waits at least this long, and never less than the back-off.
    after: float | None = None


@dataclass(frozen=True, slots=True)
class Dead:
    error: str


Outcome = Delivered | Retry | Dead
# A handler is told whether this is the event's last attempt, so that it can close its own log.
Handler = Callable[[OutboxEvent, bool], Outcome]


@runtime_checkable
class BatchHandler(Protocol):
    """A handler that reads before a batch and writes after it, instead of once per event."""

    def prepare(self, events: Sequence[OutboxEvent]) -> None: ...

    def flush(self) -> None: ...

    def __call__(self, event: OutboxEvent, last_attempt: bool) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 10
    base_seconds: float = 5.0
    cap_seconds: float = 6 * 3600.0

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Half the exponential step fixed, half random: retries spread out but never bunch."""
        step = min(self.cap_seconds, self.base_seconds * 2.0 ** max(0, attempts - 1))
        jitter: float = rng.uniform(0, step / 2)
        return step / 2 + jitter


@dataclass
class Dispatcher:
    db: Database
    handlers: Sequence[Handler]
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    batch_size: int = 100
    lease_seconds: float = 120.0
    concurrency: int = 8
    account_id: str | None = None
    rng: random.Random = field(default_factory=random.Random)

    def run_once(self) -> int:
        """One batch: how many events were claimed (0 when nothing was due)."""
        events = store.claim(
            self.db,
            limit=self.batch_size,
            lease_seconds=self.lease_seconds,
            max_attempts=self.policy.max_attempts,
            account_id=self.account_id,
        )
        if not events:
            return 0
        batch_aware = [handler for handler in self.handlers if isinstance(handler, BatchHandler)]
        for handler in batch_aware:
            handler.prepare(events)
        if self.concurrency > 1 and len(events) > 1:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(events))) as pool:
                outcomes = list(pool.map(self._deliver, events))
        else:
            outcomes = [self._deliver(event) for event in events]
        for handler in batch_aware:
            handler.flush()
        store.settle(
            self.db,
            [
                self._settlement(event, outcome)
                for event, outcome in zip(events, outcomes, strict=True)
            ],
        )
        return len(events)

    def drain(self, max_batches: int = 1000) -> int:
        """Batches until nothing is due; returns how many events were handled."""
        total = 0
        for _ in range(max_batches):
            handled = self.run_once()
            if not handled:
                break
            total += handled
        return total

    def _deliver(self, event: OutboxEvent) -> Outcome:
        last = event.attempts >= self.policy.max_attempts
        retry: Retry | None = None
        dead: Dead | None = None
        for handler in self.handlers:
            try:
                outcome = handler(event, last)
            except Exception as error:  # a handler bug must not stop the worker
                log.exception("outbox handler failed on event %s", event.event_id)
                outcome = Retry(f"{type(error).__name__}: {error}")
            if isinstance(outcome, Retry):
                retry = outcome if retry is None else _later(retry, outcome)
            elif isinstance(outcome, Dead):
                dead = dead or outcome
        return retry or dead or Delivered()

    def _settlement(self, event: OutboxEvent, outcome: Outcome) -> Settlement:
        if isinstance(outcome, Delivered):
            return Settlement(event.account_id, event.event_id, store.DELIVERED)
        if isinstance(outcome, Retry) and event.attempts < self.policy.max_attempts:
            wait = self.policy.delay(event.attempts, self.rng)
            if outcome.after is not None:
                wait = max(wait, min(outcome.after, self.policy.cap_seconds))
            return Settlement(
                event.account_id,
                event.event_id,
                store.PENDING,
                error=outcome.error,
                retry_at=utcnow() + timedelta(seconds=wait),
            )
        log.warning("outbox event %s is dead: %s", event.event_id, outcome.error)
        return Settlement(event.account_id, event.event_id, store.DEAD, error=outcome.error)


def _later(first: Retry, second: Retry) -> Retry:
    """Two handlers asking for a retry: the first one's error, the longer of their waits."""
    waits = [wait for wait in (first.after, second.after) if wait is not None]
    return Retry(first.error, max(waits) if waits else None)
