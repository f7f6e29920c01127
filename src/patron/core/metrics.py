"""Prometheus metrics that belong to the store and the jobs, not to a surface.

Every process records into ``prometheus_client``'s registry: in memory, or, when
``PROMETHEUS_MULTIPROC_DIR`` is set before the library is imported (``patron serve`` with
several worker processes sets it up), into files that the process serving ``/metrics`` adds up.
Recording is off until :func:`enable` is called (``patron serve`` and ``patron worker`` with a
metrics port), so commands and tests pay nothing for it.

Label values are bounded: actions and credit types are enums, outcomes and statuses fixed sets.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

# In multi-process mode every metric made below opens a file in this directory at once: an
# operator's directory that does not exist yet is made rather than failing the import.
if _directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(_directory, exist_ok=True)

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, event
from sqlalchemy.pool import QueuePool

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

POOL_IN_USE = Gauge(
    "patron_db_pool_connections_in_use",
    "Store connections checked out of the pool, summed over live processes.",
    multiprocess_mode="livesum",
)
POOL_WAITS = Histogram(
    "patron_db_pool_wait_seconds",
    "Checkouts that found the pool exhausted, and how long each waited for a connection.",
    buckets=LATENCY_BUCKETS,
)
LEDGER_ENTRIES = Counter(
    "patron_ledger_entries",
    "Ledger entries committed, by action and credit type.",
    ["action", "credit_type"],
)
LEDGER_AMOUNT = Counter(
    "patron_ledger_amount",
    "Sum of committed entries' amounts in the credit type's unit (currency or points).",
    ["action", "credit_type"],
)
DELIVERIES = Counter(
    "patron_outbox_deliveries",
    "Outbox delivery attempts settled, by outcome (delivered, retry, dead).",
    ["outcome"],
)
SWEEPS = Counter("patron_expiry_sweeps", "Expiry sweeps run to the end.")
SWEEP_FAILURES = Counter("patron_expiry_sweep_failures", "Expiry sweeps that failed.")
SWEEP_EXPIRED = Counter(
    "patron_expiry_expired", "Credit lots and redemption codes expired by sweeps.", ["kind"]
)
SWEEP_LAST = Gauge(
    "patron_expiry_last_sweep_timestamp_seconds",
    "When the last expiry sweep finished (Unix time).",
    multiprocess_mode="max",
)

_PENDING = "patron_metrics_ledger"
_MARKS = "patron_metrics_savepoints"
_enabled = False
_ledger_children: dict[tuple[str, str], tuple[Any, Any]] = {}
_delivery_children = {
    outcome: DELIVERIES.labels(outcome) for outcome in ("delivered", "retry", "dead")
}


def enabled() -> bool:
    return _enabled


def enable() -> None:
    """Record from now on (in this process)."""
    global _enabled  # noqa: PLW0603 - one switch per process, set once at start
    _enabled = True


def instrument(engine: Engine) -> None:
    """Pool use and waits, and the ledger counted once its transaction commits."""
    pool = engine.pool
    # On the engine: its pool's events, kept when the pool is made again (dispose).
    event.listen(engine, "checkout", lambda *_: POOL_IN_USE.inc())
    event.listen(engine, "checkin", lambda *_: POOL_IN_USE.dec())
    if isinstance(pool, QueuePool):
        _time_waits(pool)
    event.listen(engine, "begin", _forget)
    event.listen(engine, "rollback", _forget)
    event.listen(engine, "commit", _count_committed)
    # A savepoint rolled back takes its entries with it; the transaction's others commit.
    event.listen(engine, "savepoint", _mark)
    event.listen(engine, "rollback_savepoint", _back_to_mark)
    event.listen(engine, "release_savepoint", _drop_mark)


def _time_waits(pool: QueuePool) -> None:
    """A checkout that finds no idle connection and no overflow left waits: timed then only."""
    get = pool._do_get
    limit = pool.size() + max(0, getattr(pool, "_max_overflow", 0))

    def timed_get() -> Any:
        if pool.checkedin() or pool.checkedout() < limit:
            return get()
        started = time.perf_counter()
        try:
            return get()
        finally:
            POOL_WAITS.observe(time.perf_counter() - started)

    pool._do_get = timed_get  # type: ignore[method-assign]


def ledger_entry(
    connection: Connection, action: str, credit_type: str, amount_minor: int, places: int
) -> None:
    """An entry written in ``connection``'s transaction: counted if and when it commits."""
    if _enabled:
        connection.info.setdefault(_PENDING, []).append((action, credit_type, amount_minor, places))


def pending_mark(connection: Connection) -> int:
    """How many entries ``connection``'s transaction has counted so far: the mark to go back
    to (``back_to_mark``) when what follows is rolled back to a savepoint made in SQL."""
    return len(connection.info.get(_PENDING, ()))


def back_to_mark(connection: Connection, mark: int) -> None:
    """Forget the entries counted since ``pending_mark`` gave ``mark``: rolled back."""
    pending = connection.info.get(_PENDING)
    if pending is not None:
        del pending[mark:]


def _forget(connection: Connection) -> None:
    connection.info.pop(_PENDING, None)
    connection.info.pop(_MARKS, None)


def _mark(connection: Connection, _name: str | None) -> None:
    # Savepoints nest: a stack of how many entries were pending when each began (the event
    # is told no name yet when the savepoint is begun).
    connection.info.setdefault(_MARKS, []).append(len(connection.info.get(_PENDING, ())))


def _back_to_mark(connection: Connection, _name: str, _context: object) -> None:
    marks = connection.info.get(_MARKS)
    pending = connection.info.get(_PENDING)
    if marks:
        mark = marks.pop()
        if pending is not None:
            del pending[mark:]


def _drop_mark(connection: Connection, _name: str, _context: object) -> None:
    marks = connection.info.get(_MARKS)
    if marks:
        marks.pop()


def _count_committed(connection: Connection) -> None:
    connection.info.pop(_MARKS, None)
    pending = connection.info.pop(_PENDING, None)
    for action, credit_type, amount_minor, places in pending or ():
        children = _ledger_children.get((action, credit_type))
        if children is None:
            children = (
                LEDGER_ENTRIES.labels(action, credit_type),
                LEDGER_AMOUNT.labels(action, credit_type),
            )
            _ledger_children[(action, credit_type)] = children
        children[0].inc()
        children[1].inc(float(Decimal(amount_minor).scaleb(-places)))


def delivery(outcome: str) -> None:
    """One outbox event settled: ``delivered``, ``retry`` or ``dead``."""
    if _enabled:
        _delivery_children[outcome].inc()


def sweep_finished(lots: int, codes: int) -> None:
    if _enabled:
        SWEEPS.inc()
        SWEEP_EXPIRED.labels("lots").inc(lots)
        SWEEP_EXPIRED.labels("codes").inc(codes)
        SWEEP_LAST.set(time.time())


def sweep_failed() -> None:
    if _enabled:
        SWEEP_FAILURES.inc()


OutboxState = tuple[dict[str, int], float | None]


class StoreCollector(Collector):
    """Gauges read from the store when scraped: the outbox by status, how long the oldest due
    event has waited, and the dead letters. One query each scrape, from one process."""

    def __init__(self, read: Callable[[], OutboxState]) -> None:
        self._read = read

    def collect(self) -> Iterable[Any]:
        return self._collect()

    def _collect(self) -> Iterator[Any]:
        try:
            by_status, oldest_due = self._read()
        except Exception:  # the store is down: the scrape still answers, without these
            up = GaugeMetricFamily("patron_store_up", "1 if the store answered the scrape.")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("patron_store_up", "1 if the store answered the scrape.")
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily(
            "patron_outbox_events",
            "Outbox events not delivered, by status (delivered rows are not counted).",
            labels=["status"],
        )
        for status in ("pending", "delivering", "dead"):
            depth.add_metric([status], by_status.get(status, 0))
        yield depth
        dead = GaugeMetricFamily(
            "patron_outbox_dead_letters", "Outbox events parked as dead, for an operator."
        )
        dead.add_metric([], by_status.get("dead", 0))
        yield dead
        age = GaugeMetricFamily(
            "patron_outbox_oldest_due_age_seconds",
            "How long the oldest event due for delivery has been waiting (0: none due).",
        )
        age.add_metric([], oldest_due or 0.0)
        yield age
