"""The outbox, timed in this process (it is ``patron worker``'s job, not a request).

``outbox``: N ``contact.created`` events written as the service writes them (contacts created
through ``patron.customers.service`` for an account with one webhook on CONTACT_CREATED), then
one worker — the dispatcher ``patron.integrations.wiring.dispatcher`` builds from the settings,
on a database opened as ``patron worker`` opens it — delivers them to a fast receiver running
in its own process (``bench.receiver``), calling ``run_once`` in a loop as ``patron worker``
does. Timed from the first claim until nothing is due; afterwards every event must be
``delivered``, logged as delivered, and the receiver must have seen each event id.

``outboxcost``: the write path with and without the outbox insert. The same commands run from
a few threads against the store, once as they are and once with ``record_event`` replaced by a
function that writes nothing — in this process only — in alternating rounds, and the cost is
how much slower the first is.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import psycopg
from sqlalchemy import func, select, update

from bench.cpu import CpuWindow
from bench.seed import Tenant, create_contacts, create_tenant
from bench.stores import Store
from patron.cli.common import open_database
from patron.core.db import Database
from patron.core.events import outbox_events
from patron.core.settings import load_settings
from patron.customers import service as customers
from patron.customers.models import NewCustomer
from patron.integrations import wiring
from patron.wallets import repository as wallet_repository
from patron.wallets import service as wallets
from patron.wallets.models import EntryCommand
from patron.webhooks import service as webhooks
from patron.webhooks.addresses import UrlPolicy
from patron.webhooks.models import NewWebhook
from patron.webhooks.tables import webhook_deliveries

GOAL_EVENTS_PER_SECOND = 2_000.0  # one worker, PostgreSQL
GOAL_COST_PCT = 10.0
# The modules that queue events on the measured write paths, each holding its own reference.
_RECORDERS = (customers, wallets, wallet_repository)

Say = Callable[[str], None]


@dataclass
class OutboxResult:
    events: int
    seed_seconds: float
    seconds: float
    rate: float  # events delivered per second
    batches_settings: dict[str, Any]
    check: dict[str, Any] = field(default_factory=dict)
    cpu: dict[str, Any] = field(default_factory=dict)


@dataclass
class CostResult:
    command: str
    writes: int  # per variant
    threads: int
    with_outbox: float  # writes per second
    without_outbox: float
    # CPU milliseconds per write, this process and the database's backends together: less
    # swayed than the rate by whatever else the machine is doing.
    cpu_ms_with: float | None = None
    cpu_ms_without: float | None = None
    check: dict[str, Any] = field(default_factory=dict)

    @property
    def cost_pct(self) -> float:
        if self.without_outbox <= 0:
            return 0.0
        return 100.0 * (1.0 - self.with_outbox / self.without_outbox)

    @property
    def cpu_cost_pct(self) -> float | None:
        if not self.cpu_ms_with or not self.cpu_ms_without:
            return None
        return 100.0 * (self.cpu_ms_with / self.cpu_ms_without - 1.0)


@contextmanager
def running_receiver() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``bench.receiver`` in its own process; its base URL while it runs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.receiver"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def receiver_stats(base_url: str) -> dict[str, int]:
    return dict(httpx.get(f"{base_url}/stats", timeout=5).json())


def _settle_pending(db: Database) -> int:
    """Events the seeding queued (nobody subscribed) out of the way, so the worker sees only
    the N of this run; returns how many."""
    with db.write() as connection:
        result = connection.execute(
            update(outbox_events)
            .where(outbox_events.c.status.in_(("pending", "delivering")))
            .values(status="delivered", next_attempt_at=None)
        )
    return int(result.rowcount)


def _settle_store(store: Store) -> None:
    if store.kind == "postgresql":
        with psycopg.connect(store.libpq_url, autocommit=True) as connection:
            connection.execute("VACUUM (ANALYZE) outbox_events")
            connection.execute("VACUUM (ANALYZE) webhook_deliveries")


def _outbox_check(
    db: Database, account_id: str, events: int, seen: dict[str, int]
) -> dict[str, Any]:
    with db.read() as connection:
        statuses = dict(
            connection.execute(
                select(outbox_events.c.status, func.count())
                .where(outbox_events.c.account_id == account_id)
                .group_by(outbox_events.c.status)
            ).all()
        )
        logged = connection.execute(
            select(func.count())
            .select_from(webhook_deliveries)
            .where(
                webhook_deliveries.c.account_id == account_id,
                webhook_deliveries.c.status == "delivered",
            )
        ).scalar_one()
    check: dict[str, Any] = {
        "statuses": {str(key): int(value) for key, value in statuses.items()},
        "logged_delivered": int(logged),
        "received_requests": seen["requests"],
        "received_distinct_ids": seen["distinct_ids"],
    }
    check["ok"] = (
        check["statuses"] == {"delivered": events}
        and logged == events
        and seen["distinct_ids"] == events
        and seen["missing_id"] == 0
    )
    return check


def run_outbox(
    db: Database,
    store: Store,
    events: int,
    backends: Callable[[], list[int]] | None,
    say: Say,
) -> OutboxResult:
    moved = _settle_pending(db)
    tenant = create_tenant(db, store.url, "bench outbox")
    with running_receiver() as (base_url, receiver):
        webhooks.create_webhook(
            db,
            tenant.principal,
            NewWebhook(url=f"{base_url}/hooks", events=["CONTACT_CREATED"]),
            UrlPolicy(require_https=False, allow_private=True),
        )
        started = time.monotonic()
        threads = 1 if store.kind == "sqlite" else 4
        create_contacts(
            db, tenant, events, tag=f"outbox{uuid.uuid4().hex[:6]}", threads=threads, shopify_base=0
        )
        seed_seconds = time.monotonic() - started
        _settle_store(store)
        say(
            f"  outbox  {events:,} contact.created events queued in {seed_seconds:.1f} s "
            f"({moved:,} earlier events set aside as delivered)"
        )
        settings = load_settings(
            database_url=store.url, environment="development", webhook_allow_private_addresses=True
        )
        worker_db = open_database(store.url)  # as `patron worker` opens it
        try:
            with (
                wiring.dispatcher(settings, worker_db) as dispatcher,
                CpuWindow(lambda: [receiver.pid], backends) as window,
            ):
                started = time.monotonic()
                while dispatcher.run_once():  # as `patron worker` runs it
                    pass
                seconds = time.monotonic() - started
                dispatcher.close()
        finally:
            worker_db.dispose()
        seen = receiver_stats(base_url)
    check = _outbox_check(db, tenant.uuid, events, seen)
    rate = events / seconds if seconds > 0 else 0.0
    result = OutboxResult(
        events=events,
        seed_seconds=round(seed_seconds, 2),
        seconds=round(seconds, 3),
        rate=rate,
        batches_settings={
            "batch_size": settings.outbox_batch_size,
            "concurrency": settings.outbox_concurrency,
        },
        check=check,
        cpu=window.use.as_dict(),
    )
    say(
        f"  outbox  {events:,} events delivered by one worker in {seconds:.2f} s: "
        f"{rate:,.0f} events/s ({100 * rate / GOAL_EVENTS_PER_SECOND:.0f}% of the "
        f"{GOAL_EVENTS_PER_SECOND:,.0f}/s goal); receiver saw {seen['distinct_ids']:,} ids in "
        f"{seen['requests']:,} requests: " + ("ok" if check["ok"] else f"FAILED {check}")
    )
    return result


# --- the write path with and without the outbox insert ---------------------------------------


def _no_event(*_args: Any, **_kwargs: Any) -> str:
    return str(uuid.uuid4())


@contextmanager
def outbox_stubbed() -> Iterator[None]:
    """``record_event`` writes nothing, in this process, while the block runs; nor does a
    ledger entry's event, which on PostgreSQL rides in the entry's own statement."""
    saved = [module.record_event for module in _RECORDERS]
    move_and_record = wallet_repository.move_and_record

    def without_event(*args: Any, **kwargs: Any) -> Any:
        kwargs["event"] = None
        return move_and_record(*args, **kwargs)

    for module in _RECORDERS:
        module.record_event = _no_event  # type: ignore[assignment]
    wallet_repository.move_and_record = without_event  # type: ignore[assignment]
    try:
        yield
    finally:
        for module, original in zip(_RECORDERS, saved, strict=True):
            module.record_event = original  # type: ignore[assignment]
        wallet_repository.move_and_record = move_and_record  # type: ignore[assignment]


def _commands(
    tenant: Tenant, db: Database, wallet_uuids: list[str]
) -> dict[str, Callable[[int], Any]]:
    def create(number: int) -> Any:
        return customers.create_customer(
            db,
            tenant.principal,
            NewCustomer(
                profile={
                    "email": f"cost-{uuid.uuid4().hex}@example.com",
                    "name": f"Cost Contact {number}",
                }
            ),
        )

    def entry(action: str) -> Callable[[int], Any]:
        def post(number: int) -> Any:
            return wallets.post_entry(
                db,
                tenant.principal,
                EntryCommand(
                    wallet_uuid=random.choice(wallet_uuids),
                    action=action,
                    credit_type="GLOBAL",
                    amount=Decimal("0.01"),
                    note="bench outbox cost",
                ),
            )

        return post

    return {
        "createContact": create,
        "addCreditEntry SPEND": entry("SPEND"),
        "addCreditEntry ADD": entry("ADD"),
    }


def _timed(work: Callable[[int], Any], writes: int, threads: int) -> float:
    started = time.monotonic()
    if threads <= 1:
        for number in range(writes):
            work(number)
    else:
        with ThreadPoolExecutor(threads, thread_name_prefix="cost") as pool:
            for _ in pool.map(work, range(writes)):
                pass
    return time.monotonic() - started


def _outbox_rows(db: Database) -> int:
    with db.read() as connection:
        return int(connection.execute(select(func.count()).select_from(outbox_events)).scalar_one())


def run_outbox_cost(
    db: Database,
    store: Store,
    tenant: Tenant,
    wallet_uuids: list[str],
    writes: int,
    backends: Callable[[], list[int]] | None,
    say: Say,
    rounds: int = 4,
) -> list[CostResult]:
    """Each command ``writes`` times per variant, split over ``rounds`` runs of each, in the
    order with, without, without, with, ... so that a machine getting busier or quieter
    during the measurement weighs on both alike."""
    threads = 1 if store.kind == "sqlite" else 4
    per_round = max(1, writes // rounds)
    results = []
    for name, work in _commands(tenant, db, wallet_uuids).items():
        _timed(work, min(100, per_round), threads)  # warm caches and connections
        spent = {True: 0.0, False: 0.0}
        cpu = {True: 0.0, False: 0.0}
        rows = {True: 0, False: 0}
        for round_number in range(rounds):
            for outbox in (True, False) if round_number % 2 == 0 else (False, True):
                before = _outbox_rows(db)
                with CpuWindow(None, backends) as window:
                    if outbox:
                        spent[outbox] += _timed(work, per_round, threads)
                    else:
                        with outbox_stubbed():
                            spent[outbox] += _timed(work, per_round, threads)
                used = window.use
                cpu[outbox] += (used.load_generator_pct + (used.database_pct or 0.0)) * used.seconds
                rows[outbox] += _outbox_rows(db) - before
        done = per_round * rounds
        result = CostResult(
            command=name,
            writes=done,
            threads=threads,
            with_outbox=done / spent[True],
            without_outbox=done / spent[False],
            cpu_ms_with=cpu[True] * 10 / done,  # percent-seconds: x 10 / writes = ms per write
            cpu_ms_without=cpu[False] * 10 / done,
            check={"outbox_rows_with": rows[True], "outbox_rows_without": rows[False]},
        )
        result.check["ok"] = rows[True] == done and rows[False] == 0
        results.append(result)
        say(
            f"  cost    {name:22} {result.with_outbox:8,.0f}/s with the outbox, "
            f"{result.without_outbox:8,.0f}/s without: {result.cost_pct:+.1f}%; CPU "
            f"{result.cpu_ms_with:.2f} and {result.cpu_ms_without:.2f} ms per write: "
            f"{result.cpu_cost_pct or 0:+.1f}% ({threads} thread(s), {done:,} writes each)"
            + ("" if result.check["ok"] else f" FAILED {result.check}")
        )
    return results
