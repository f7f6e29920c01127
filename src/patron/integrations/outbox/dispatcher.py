"""The dispatcher: claim a batch, deliver each event with no transaction open, settle the batch.

Handlers do the delivering. Each returns an outcome: delivered, retry (a network error, a
timeout, a 5xx or a 429) or dead (anything a retry cannot fix). Retries back off
exponentially with jitter until ``max_attempts``; then the event is parked as dead with its
last error, for an operator to look at and ``patron outbox retry``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, runtime_checkable

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from patron.core import metrics
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.integrations.outbox import store
from patron.integrations.outbox.store import OutboxEvent, Settlement

log = logging.getLogger("patron.outbox")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Delivered:
    pass


DELIVERED = Delivered()


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
class BatchOutcome:
    """What an asynchronous handler made of a batch: an outcome per event, in order, and what
    to write in the transaction that settles the batch (its delivery log)."""

    outcomes: list[Outcome]
    record: Callable[[Connection], None] | None = None


@runtime_checkable
class AsyncBatchHandler(Protocol):
    """A handler that sends a whole batch from the dispatcher's event loop, many requests in
    flight at once (at most ``concurrency``).

    ``plan`` reads what the batch needs from the store, on a thread, right after the claim
    (while the batch before is still being sent); ``deliver`` gets its result, and ``last``
    says, per event, whether this is its last try.
    """

    def plan(self, events: Sequence[OutboxEvent]) -> object: ...

    async def deliver(
        self,
        events: Sequence[OutboxEvent],
        last: Sequence[bool],
        concurrency: int,
        plan: object,
    ) -> BatchOutcome: ...

    async def aclose(self) -> None: ...


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
    """Claims a batch, delivers it, settles it.

    Asynchronous handlers (webhooks) send from an event loop; the others (Shopify, Klaviyo) run
    per event on ``concurrency`` threads at the same time. ``drain`` overlaps the store's work
    with the sending: it claims the next batch while one is in flight and settles a batch while
    the next is sent. Call ``close`` when done (it also happens when the dispatcher is garbage
    collected, or at exit).
    """

    db: Database
    handlers: Sequence[Handler | AsyncBatchHandler]
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    batch_size: int = 100
    lease_seconds: float = 120.0
    concurrency: int = 8
    account_id: str | None = None
    rng: random.Random = field(default_factory=random.Random)
    _runtime: _Runtime | None = field(default=None, init=False, repr=False)
    _split: tuple[list[AsyncBatchHandler], list[Handler], list[BatchHandler]] | None = field(
        default=None, init=False, repr=False
    )

    def run_once(self, max_batches: int = 20) -> int:
        """The events that were due when it was called, a batch at a time (at most
        ``max_batches``, so that a worker's other jobs are not held up by a long queue): how
        many were handled, 0 when nothing was due. A retry it schedules waits for a later call.
        """
        return self._run(self._drain(max_batches, due_by=utcnow()))

    def drain(self, max_batches: int = 1000) -> int:
        """Batches until nothing is due; returns how many events were handled."""
        return self._run(self._drain(max_batches, due_by=None))

    def close(self) -> None:
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            runtime.finalizer()

    def _claim(self, due_by: datetime | None) -> tuple[list[OutboxEvent], list[object]]:
        """A batch (of events due by then, or now), and each asynchronous handler's plan."""
        events = store.claim(
            self.db,
            limit=self.batch_size,
            lease_seconds=self.lease_seconds,
            max_attempts=self.policy.max_attempts,
            account_id=self.account_id,
            due_by=due_by,
        )
        if not events:
            return events, []
        return events, [self._plan(handler, events) for handler in self._asynchronous()]

    def _plan(self, handler: AsyncBatchHandler, events: list[OutboxEvent]) -> object:
        try:
            return handler.plan(events)
        except Exception as error:  # delivered as a retry of the whole batch
            log.exception("outbox handler %r failed to plan a batch", type(handler).__name__)
            return _Failed(error)

    def _asynchronous(self) -> list[AsyncBatchHandler]:
        # Checked once: isinstance against a runtime-checkable protocol is slow.
        if self._split is None:
            self._split = (
                [h for h in self.handlers if isinstance(h, AsyncBatchHandler)],
                [h for h in self.handlers if not isinstance(h, AsyncBatchHandler)],
                [h for h in self.handlers if isinstance(h, BatchHandler)],
            )
        return self._split[0]

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        if self._runtime is None:
            self._runtime = _Runtime.start(self.handlers, self.concurrency)
        return self._runtime.loop.run_until_complete(work)

    async def _drain(self, max_batches: int, due_by: datetime | None) -> int:
        loop = asyncio.get_running_loop()
        assert self._runtime is not None
        store_thread = self._runtime.store_thread
        total = batches = 0
        claiming: asyncio.Future[tuple[list[OutboxEvent], list[object]]] | None = (
            loop.run_in_executor(store_thread, self._claim, due_by)
        )
        settling: asyncio.Future[None] | None = None
        unsent: list[OutboxEvent] = []  # claimed, not yet sent
        try:
            while claiming is not None:
                events, plans = await claiming
                claiming = None
                if not events:
                    if settling is None:
                        break
                    # What the last batch retries at once may be due again once it is settled.
                    await settling
                    settling = None
                    claiming = loop.run_in_executor(store_thread, self._claim, due_by)
                    continue
                unsent = events
                batches += 1
                total += len(events)
                if batches < max_batches:
                    claiming = loop.run_in_executor(store_thread, self._claim, due_by)
                settle = await self._deliver(events, plans)
                unsent = []
                if settling is not None:
                    await settling
                settling = loop.run_in_executor(store_thread, _persistently(settle))
            if settling is not None:
                await settling
                settling = None
        except BaseException:
            # The store failed (or the run was stopped): what was claimed and not sent goes
            # back at once rather than waiting out its lease. What was sent and not settled
            # keeps its lease: it is sent again once the lease runs out (at least once).
            if claiming is not None:
                claimed = (await asyncio.gather(claiming, return_exceptions=True))[0]
                claiming = None
                if isinstance(claimed, tuple):
                    unsent = unsent + claimed[0]
            if unsent:
                await asyncio.gather(
                    loop.run_in_executor(store_thread, _released, self.db, unsent),
                    return_exceptions=True,
                )
            raise
        finally:
            # After an error: wait for what is under way, its outcome no longer matters.
            under_way: tuple[asyncio.Future[Any] | None, ...] = (claiming, settling)
            leftovers = [future for future in under_way if future is not None]
            if leftovers:
                await asyncio.gather(*leftovers, return_exceptions=True)
        return total

    async def _deliver(self, events: list[OutboxEvent], plans: list[object]) -> Callable[[], None]:
        """Every handler on the batch; returns what settles it."""
        assert self._runtime is not None
        last = [event.attempts >= self.policy.max_attempts for event in events]
        asynchronous = self._asynchronous()
        assert self._split is not None
        synchronous = self._split[1]
        loop = asyncio.get_running_loop()
        in_threads = (
            loop.run_in_executor(None, self._deliver_synchronously, synchronous, events)
            if synchronous
            else None
        )
        batches = await asyncio.gather(
            *(
                self._deliver_asynchronously(handler, events, last, plan)
                for handler, plan in zip(asynchronous, plans, strict=True)
            )
        )
        per_event: list[list[Outcome]] = [[] for _ in events]
        if in_threads is not None:
            for outcomes, outcome in zip(per_event, await in_threads, strict=True):
                outcomes.append(outcome)
        for batch in batches:
            for outcomes, outcome in zip(per_event, batch.outcomes, strict=True):
                outcomes.append(outcome)
        settlements = [
            self._settlement(event, _merge(outcomes))
            for event, outcomes in zip(events, per_event, strict=True)
        ]
        records = [batch.record for batch in batches if batch.record is not None]
        return lambda: store.settle(self.db, settlements, also=records)

    async def _deliver_asynchronously(
        self,
        handler: AsyncBatchHandler,
        events: list[OutboxEvent],
        last: list[bool],
        plan: object,
    ) -> BatchOutcome:
        try:
            if isinstance(plan, _Failed):
                raise plan.error
            batch = await handler.deliver(events, last, self.concurrency, plan)
        except Exception as error:  # a handler bug must not stop the worker
            log.exception("outbox handler %r failed on a batch", type(handler).__name__)
            retry: Outcome = Retry(f"{type(error).__name__}: {error}")
            return BatchOutcome([retry for _ in events])
        if len(batch.outcomes) != len(events):
            raise RuntimeError(f"{type(handler).__name__} answered for other events")
        return batch

    def _deliver_synchronously(
        self, handlers: list[Handler], events: list[OutboxEvent]
    ) -> list[Outcome]:
        assert self._runtime is not None
        assert self._split is not None
        batch_aware = self._split[2]
        for handler in batch_aware:
            handler.prepare(events)

        outcomes: list[Outcome] = [DELIVERED] * len(events)
        queue = iter(range(len(events)))

        def work() -> None:  # up to ``concurrency`` threads share the queue
            for index in queue:
                event = events[index]
                last = event.attempts >= self.policy.max_attempts
                outcomes[index] = _merge(_each(handlers, event, last))

        workers = min(self.concurrency, len(events))
        if workers > 1:
            for _ in self._runtime.threads.map(lambda _: work(), range(workers)):
                pass
        else:
            work()
        for handler in batch_aware:
            handler.flush()
        return outcomes

    def _settlement(self, event: OutboxEvent, outcome: Outcome) -> Settlement:
        if isinstance(outcome, Delivered):
            metrics.delivery("delivered")
            return Settlement(event.account_id, event.event_id, store.DELIVERED)
        if isinstance(outcome, Retry) and event.attempts < self.policy.max_attempts:
            wait = self.policy.delay(event.attempts, self.rng)
            if outcome.after is not None:
                wait = max(wait, min(outcome.after, self.policy.cap_seconds))
            metrics.delivery("retry")
            return Settlement(
                event.account_id,
                event.event_id,
                store.PENDING,
                error=outcome.error,
                retry_at=utcnow() + timedelta(seconds=wait),
            )
        log.warning("outbox event %s is dead: %s", event.event_id, outcome.error)
        metrics.delivery("dead")
        return Settlement(event.account_id, event.event_id, store.DEAD, error=outcome.error)


# A settlement that fails on the store is tried again this often, after these waits, before
# the worker gives up on it (its events then keep their lease and are sent again after it).
SETTLE_WAITS = (0.2, 1.0, 3.0)


def _persistently(settle: Callable[[], None]) -> Callable[[], None]:
    """``settle``, tried again after a store error: the events it records were sent already,
    and a settlement lost means sending them again."""

    def attempt() -> None:
        for wait in SETTLE_WAITS:
            try:
                settle()
            except SQLAlchemyError:
                log.warning("outbox: settling a batch failed; trying again in %gs", wait)
                time.sleep(wait)
            else:
                return
        settle()

    return attempt


def _released(db: Database, events: list[OutboxEvent]) -> None:
    try:
        store.release(db, events)
    except SQLAlchemyError:
        log.warning("outbox: %d claimed events wait out their lease", len(events))


@dataclass(frozen=True, slots=True)
class _Failed:
    error: Exception


@dataclass
class _Runtime:
    """The dispatcher's event loop and threads, and what closes them (once)."""

    loop: asyncio.AbstractEventLoop
    threads: ThreadPoolExecutor
    store_thread: ThreadPoolExecutor
    finalizer: weakref.finalize[Any, Any]

    @classmethod
    def start(cls, handlers: Sequence[object], concurrency: int) -> _Runtime:
        loop = asyncio.new_event_loop()
        threads = ThreadPoolExecutor(concurrency, thread_name_prefix="outbox")
        # Two: the next claim and the last settlement may both be under way.
        store_thread = ThreadPoolExecutor(2, thread_name_prefix="outbox-store")
        closing = [handler for handler in handlers if isinstance(handler, AsyncBatchHandler)]
        runtime = cls(loop, threads, store_thread, None)  # type: ignore[arg-type]
        runtime.finalizer = weakref.finalize(runtime, _shut, loop, threads, store_thread, closing)
        return runtime


def _shut(
    loop: asyncio.AbstractEventLoop,
    threads: ThreadPoolExecutor,
    store_thread: ThreadPoolExecutor,
    handlers: list[AsyncBatchHandler],
) -> None:
    def close_loop() -> None:
        if loop.is_closed() or loop.is_running():
            return
        try:
            # A run interrupted (Ctrl-C) leaves its task behind: stop it rather than resume it.
            unfinished = asyncio.all_tasks(loop)
            for task in unfinished:
                task.cancel()
            if unfinished:
                loop.run_until_complete(asyncio.gather(*unfinished, return_exceptions=True))
            loop.run_until_complete(_close(handlers))
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop runs in this thread: close ours here
        close_loop()
    else:  # collected as garbage inside another loop, which cannot be left to run ours
        closer = threading.Thread(target=close_loop, name="outbox-close")
        closer.start()
        closer.join()
    threads.shutdown(wait=False)
    store_thread.shutdown(wait=False)


async def _close(handlers: list[AsyncBatchHandler]) -> None:
    await asyncio.gather(*(handler.aclose() for handler in handlers), return_exceptions=True)


def _each(handlers: Sequence[Handler], event: OutboxEvent, last: bool) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for handler in handlers:
        try:
            outcomes.append(handler(event, last))
        except Exception as error:  # a handler bug must not stop the worker
            log.exception("outbox handler failed on event %s", event.event_id)
            outcomes.append(Retry(f"{type(error).__name__}: {error}"))
    return outcomes


def _merge(outcomes: Sequence[Outcome]) -> Outcome:
    """Any retry wins (the longest wait asked for), then the first dead letter, else delivered."""
    retry: Retry | None = None
    dead: Dead | None = None
    for outcome in outcomes:
        if isinstance(outcome, Retry):
            retry = outcome if retry is None else _later(retry, outcome)
        elif isinstance(outcome, Dead):
            dead = dead or outcome
    return retry or dead or DELIVERED


def _later(first: Retry, second: Retry) -> Retry:
    """Two handlers asking for a retry: the first one's error, the longer of their waits."""
    waits = [wait for wait in (first.after, second.after) if wait is not None]
    return Retry(first.error, max(waits) if waits else None)
