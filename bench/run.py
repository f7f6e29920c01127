"""One store's run: seed, serve, load each operation, check the ledger, measure the bound."""

from __future__ import annotations

import math
import secrets
import sqlite3
import time
from collections.abc import Callable
from contextlib import ExitStack, closing
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, LiteralString

import orjson
import psycopg
from sqlalchemy import text

from bench import bound as bare
from bench import profiling, seed_ops
from bench import read_bound as reads_bound
from bench.console import PageTime, run_console
from bench.cpu import CpuWindow
from bench.load import WrkResult, WrkSettings, run_wrk
from bench.moving import MovingResult, run_moving
from bench.options import DEFAULT_LOTS, Options
from bench.outbox import CostResult, OutboxResult, run_outbox, run_outbox_cost
from bench.seed import HOT_GLOBAL, Progress, Tenant, create_contacts, create_tenant, fund
from bench.server import FloorServer, PatronServer, patron_command, patron_json
from bench.stores import Store, backend_pids, open_store
from bench.sweep import SweepResult, run_sweep
from patron.core.db import Database

Say = Callable[[str], None]

LABELS = {
    "list": "GetContacts limit 50 (pages)",
    "get": "one contact by uuid",
    "email": "one contact by e-mail",
    "create": "createContact",
    "spend": "SPEND 0.01, random wallets",
    "hot": "SPEND 0.01, one hot wallet",
    "redeem": "redeemRedemption, distinct codes",
    "order": "recordOrder with earning",
    "commerce": "commerce.contacts.find limit 50 (pages)",
    "lightfunnels": "Lightfunnels customers(first: 50) (pages)",
    "loyaltydish": "LoyaltyDish consumers(first: 50) (pages)",
    "obtaintoken": "LoyaltyDish obtainToken (argon2; 2 conn per worker)",
}
# Where each operation is sent, under the server's base URL ({account}: the tenant's uuid).
PATHS = {
    "commerce": "/compat/commerce/api/v6/commerce.contacts.find",
    "lightfunnels": "/compat/lightfunnels/api/v2",
    "loyaltydish": "/compat/loyaltydish/graphql",
    "obtaintoken": "/compat/loyaltydish/{account}/graphql",
}
# Not requests: timed in this process once the server has stopped.
IN_PROCESS = ("outbox", "outboxcost", "sweep", "console", "moving")
# Codes made per second of warm-up, measured and paced time when --codes is not given: above
# the rate either store redeems at on a fast day of the reference machine (2,700/s on SQLite,
# 1,950/s on PostgreSQL), or the codes run out and the run is reported spoilt.
CODE_RATE = {"postgresql": 3_000, "sqlite": 3_500}


@dataclass
class OperationResult:
    operation: str
    label: str
    measured: WrkResult
    warmup: WrkResult | None
    cpu: dict[str, Any]
    check: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    # The same load paced at ``--paced`` percent of the measured rate: the latency goals'
    # figure (a server run at its limit only shows its queue).
    paced: WrkResult | None = None


@dataclass
class StoreResult:
    store: str
    origin: str
    settings: dict[str, str]
    seeding: list[str] = field(default_factory=list)
    operations: list[OperationResult] = field(default_factory=list)
    bounds: dict[str, bare.BoundResult] = field(default_factory=dict)
    drain: dict[str, Any] | None = None
    sweep: SweepResult | None = None
    moving: MovingResult | None = None
    outbox: OutboxResult | None = None
    outbox_cost: list[CostResult] = field(default_factory=list)
    ledger: dict[str, Any] | None = None
    console: list[PageTime] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def operation(self, name: str) -> OperationResult | None:
        return next((item for item in self.operations if item.operation == name), None)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Fixtures:
    tenant: Tenant
    contact_file: Path
    email_file: Path
    wallet_file: Path
    hot_wallet: str
    hot_file: Path
    drain_wallet: str | None
    drain_file: Path | None
    bound_tenant: Tenant | None = None
    bound_wallets: list[str] = field(default_factory=list)
    bound_hot_wallet: str | None = None
    code_file: Path | None = None
    codes: int = 0
    consumer_file: Path | None = None


def _lines(path: Path, values: list[str]) -> Path:
    path.write_text("\n".join(values) + "\n")
    return path


def _seed(
    db: Database, store: Store, options: Options, workdir: Path, result: StoreResult, say: Say
) -> Fixtures:
    def note(line: str) -> None:
        result.seeding.append(line)
        say("  " + line)

    progress = Progress(note)
    threads = 1 if store.kind == "sqlite" else 4
    tag = secrets.token_hex(3)
    tenant = create_tenant(db, store.url, "bench")
    contacts = progress.step(
        "contacts created",
        options.contacts,
        lambda: create_contacts(
            db, tenant, options.contacts, tag=f"seed{tag}", threads=threads, shopify_base=10**12
        ),
    )
    wallets = [item.wallet_uuid for item in contacts]
    progress.step(
        "wallets funded (GLOBAL and LOCAL)",
        len(wallets),
        lambda: fund(db, tenant, wallets, threads=threads),
    )
    extra = create_contacts(db, tenant, 2, tag=f"extra{tag}", threads=1, shopify_base=2 * 10**12)
    hot, drain = extra[0].wallet_uuid, extra[1].wallet_uuid
    fund(db, tenant, [hot], threads=1, global_amount=HOT_GLOBAL, local_amount=None)
    fund(
        db,
        tenant,
        [drain],
        threads=1,
        global_amount=Decimal(options.drain_spends) / 100,
        local_amount=None,
    )
    fixtures = Fixtures(
        tenant=tenant,
        contact_file=_lines(workdir / "contacts.txt", [item.contact_uuid for item in contacts]),
        # create_contacts gives contact i the address seed<tag>-<i>@example.com.
        email_file=_lines(
            workdir / "emails.txt",
            [f"seed{tag}-{number}@example.com" for number in range(len(contacts))],
        ),
        wallet_file=_lines(workdir / "wallets.txt", wallets),
        hot_wallet=hot,
        hot_file=_lines(workdir / "hot.txt", [hot]),
        drain_wallet=drain,
        drain_file=_lines(workdir / "drain.txt", [drain]),
    )
    _seed_more(db, store, options, workdir, fixtures, contacts, progress, threads, tag)
    if options.bound and {"spend", "hot"} & set(options.operations):
        bound_tenant = create_tenant(db, store.url, "bench bound")
        bound_contacts = progress.step(
            "bound wallets created and funded",
            options.bound_wallets + 1,
            lambda: _bound_wallets(db, bound_tenant, options.bound_wallets + 1, tag, threads),
        )
        fixtures.bound_tenant = bound_tenant
        fixtures.bound_wallets = bound_contacts[:-1]
        fixtures.bound_hot_wallet = bound_contacts[-1]
    return fixtures


def _seed_more(
    db: Database,
    store: Store,
    options: Options,
    workdir: Path,
    fixtures: Fixtures,
    contacts: list[Any],
    progress: Progress,
    threads: int,
    tag: str,
) -> None:
    """What redeem, order, commerce and obtaintoken need, when they are to run."""
    tenant, chosen = fixtures.tenant, set(options.operations)
    if "redeem" in chosen:
        # The paced run (no warm-up) redeems at ``paced`` % of the rate after the measured run.
        seconds = options.seconds * (1 + options.paced / 100) + options.warmup
        count = options.codes or round(CODE_RATE[store.kind] * seconds)
        wallets = [item.wallet_uuid for item in contacts]
        codes = progress.step(
            "redemption codes created (0.01 GLOBAL each)",
            count,
            lambda: seed_ops.create_codes(
                db, tenant, wallets, count, threads=threads, vacuum=_vacuum_keeper(store)
            ),
        )
        fixtures.code_file = _lines(workdir / "codes.txt", codes)
        fixtures.codes = len(codes)
    if "order" in chosen:
        seed_ops.set_earning_rule(db, tenant)
    if "commerce" in chosen:
        persons = contacts[: min(options.contact_persons, len(contacts))]
        progress.step(
            "contact persons created",
            len(persons),
            lambda: seed_ops.create_contact_persons(db, tenant, persons, threads=threads),
        )
    if "obtaintoken" in chosen:
        logins = progress.step(
            "consumers registered with a password",
            options.consumers,
            lambda: seed_ops.register_consumers(db, tenant, options.consumers, tag),
        )
        fixtures.consumer_file = _lines(workdir / "consumers.txt", logins)


def _bound_wallets(db: Database, tenant: Tenant, count: int, tag: str, threads: int) -> list[str]:
    made = create_contacts(db, tenant, count, tag=f"bound{tag}", threads=threads, shopify_base=0)
    wallets = [item.wallet_uuid for item in made]
    fund(db, tenant, wallets[:-1], threads=threads, local_amount=None)
    fund(db, tenant, wallets[-1:], threads=1, global_amount=HOT_GLOBAL, local_amount=None)
    return wallets


class Ledger:
    """What the store holds, read directly, to compare with what clients were told."""

    def __init__(self, db: Database, account_id: str) -> None:
        self.db = db
        self.account_id = account_id

    def _one(self, query: str, **values: Any) -> Any:
        with self.db.engine.connect() as connection:
            return connection.execute(text(query), {"account": self.account_id, **values}).one()

    def contacts(self) -> int:
        return int(self._one("SELECT count(*) FROM customers WHERE account_id = :account")[0])

    def redeemed(self) -> int:
        query = (
            "SELECT count(*) FROM redemptions WHERE account_id = :account AND status = 'REDEEMED'"
        )
        return int(self._one(query)[0])

    def orders(self) -> int:
        return int(self._one("SELECT count(*) FROM orders WHERE account_id = :account")[0])

    def earned(self) -> int:
        query = (
            "SELECT count(*) FROM credit_entries WHERE account_id = :account "
            "AND reason = 'ORDER' AND action = 'ADD'"
        )
        return int(self._one(query)[0])

    def spends(self, wallet: str | None = None) -> int:
        query = (
            "SELECT count(*) FROM credit_entries WHERE account_id = :account AND action = 'SPEND'"
        )
        if wallet is None:
            return int(self._one(query)[0])
        return int(self._one(query + " AND wallet_uuid = :wallet", wallet=wallet)[0])

    def wallet(self, wallet: str) -> dict[str, int | None]:
        """Balance, SPEND count and lowest balance_after, in one statement: one snapshot."""
        row = self._one(
            "SELECT w.global_balance, "
            "(SELECT count(*) FROM credit_entries e WHERE e.account_id = w.account_id "
            "AND e.wallet_uuid = w.uuid AND e.action = 'SPEND'), "
            "(SELECT min(e.balance_after) FROM credit_entries e WHERE e.account_id = w.account_id "
            "AND e.wallet_uuid = w.uuid AND e.credit_type = 'GLOBAL') "
            "FROM wallets w WHERE w.account_id = :account AND w.uuid = :wallet",
            wallet=wallet,
        )
        return {
            "balance_minor": int(row[0]),
            "spend_entries": int(row[1]),
            "lowest_balance_after_minor": None if row[2] is None else int(row[2]),
        }

    @staticmethod
    def settle(counter: Callable[[], int], timeout: float = 30.0) -> int:
        """The count once requests still in flight when wrk stopped have finished."""
        deadline = time.monotonic() + timeout
        last = counter()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = counter()
            if now == last:
                return now
            last = now
        return last


def _stored_counter(ledger: Ledger, operation: str, hot_wallet: str) -> Callable[[], int] | None:
    if operation == "create":
        return ledger.contacts
    if operation == "spend":
        return ledger.spends
    if operation == "hot":
        return lambda: ledger.spends(hot_wallet)
    if operation == "redeem":
        return ledger.redeemed
    if operation == "order":
        return ledger.orders
    return None


def _acknowledged_check(
    acknowledged: int, stored: int, runs: int, connections: int
) -> dict[str, Any]:
    """Every acknowledged write must be stored. A few more may be: requests still in flight
    when wrk stopped (at most one per connection per run) commit without being counted."""
    allowed = runs * connections
    unacknowledged = stored - acknowledged
    return {
        "acknowledged": acknowledged,
        "stored": stored,
        "in_flight_at_stop": unacknowledged,
        "in_flight_allowed": allowed,
        "ok": 0 <= unacknowledged <= allowed,
    }


def _check_writes(
    item: OperationResult,
    counter: Callable[[], int],
    before: int,
    ledger: Ledger,
    fixtures: Fixtures,
    options: Options,
) -> dict[str, Any]:
    """Acknowledged against stored writes; for the hot wallet, its balance too."""
    warmup, measured = item.warmup, item.measured
    acknowledged = measured.successes + (warmup.successes if warmup else 0)
    runs = 2 if warmup else 1
    check = _acknowledged_check(
        acknowledged, ledger.settle(counter) - before, runs, options.connections
    )
    if item.operation == "order":
        # Every order recorded earned its points: one ADD (reason ORDER) each.
        check["earned_entries"] = ledger.earned()
        check["ok"] = check["ok"] and check["earned_entries"] == check["stored"] + before
    if item.operation == "hot":
        state = ledger.wallet(fixtures.hot_wallet)
        check.update(state)
        expected = int(HOT_GLOBAL * 100) - (state["spend_entries"] or 0)
        check["balance_matches_entries"] = check["balance_minor"] == expected
        check["ok"] = (
            check["ok"]
            and check["balance_matches_entries"]
            and (check["lowest_balance_after_minor"] or 0) >= 0
        )
    return check


def _response_problems(item: OperationResult) -> list[str]:
    problems = []
    for phase, run in (("warm-up", item.warmup), ("measured", item.measured)):
        if run is not None and (run.bad_responses or run.socket_errors):
            problems.append(
                f"{item.operation} ({phase}): {run.bad_responses} bad responses of "
                f"{run.responses}, {run.socket_errors} socket errors; first bad: {run.first_bad}"
            )
    return problems


# Not paced: a sign-in is bounded by argon2 by design. (Redeem's paced run takes the codes
# after the measured run's.)
UNPACED = frozenset({"obtaintoken"})


def _load_operations(
    server: PatronServer,
    fixtures: Fixtures,
    ledger: Ledger,
    backends: Callable[[], list[int]] | None,
    options: Options,
    out: Path,
    result: StoreResult,
    say: Say,
    between: Callable[[], None] | None = None,
) -> None:
    settings = WrkSettings(connections=options.connections, threads=options.threads)
    # argon2 keeps a core busy per sign-in: more clients than that only queue, past wrk's
    # timeout on a small machine. Two per server worker measure the same rate.
    login_settings = WrkSettings(
        connections=min(options.connections, 2 * options.workers), threads=1
    )
    token = fixtures.tenant.token
    files = {
        "get": fixtures.contact_file,
        "email": fixtures.email_file,
        "spend": fixtures.wallet_file,
        "hot": fixtures.hot_file,
        "redeem": fixtures.code_file,
        "order": fixtures.contact_file,
        "obtaintoken": fixtures.consumer_file,
    }
    for number, operation in enumerate(options.operations):
        if operation in IN_PROCESS:
            continue  # not a request: timed once the server has stopped
        if between is not None and number > 0:
            between()
        path = PATHS.get(operation, "/graphql").format(account=fixtures.tenant.uuid)
        url = f"{server.base_url}{path}"
        mode = "spend" if operation == "hot" else operation
        counter = _stored_counter(ledger, operation, fixtures.hot_wallet)
        before = counter() if counter else 0
        run_tag = secrets.token_hex(3)

        def load(
            seconds: int,
            phase: str,
            id_base: int,
            mode: str = mode,
            operation: str = operation,
            prefix: str = f"{operation}{run_tag}",
            url: str = url,
            rate: float = 0.0,
        ) -> WrkResult:
            chosen = login_settings if mode == "obtaintoken" else settings
            return run_wrk(
                url,
                mode,
                token,
                seconds,
                replace(chosen, rate=rate),
                uuid_file=files.get(operation),
                prefix=prefix + phase,
                id_base=id_base,
                log=out / f"wrk-{result.store}.log",
            )

        # Shopify ids of creates; for redeem, the codes already taken (each is used once).
        id_base = (number + 1) * 10**11
        warmup = (
            load(options.warmup, "w", 0 if mode == "redeem" else id_base)
            if options.warmup
            else None
        )
        if between is not None and warmup is not None:
            # What the warm-up wrote (the first orders of an empty table) is analysed too, as
            # autovacuum does once a table's changes pass its threshold: the steady state of
            # a store that holds orders, not the plans of an empty table.
            between()
        measured_base = id_base + 5 * 10**10
        if mode == "redeem":
            measured_base = warmup.taken if warmup else 0
        recording = (
            profiling.record(
                server.worker_pids(),
                options.seconds,
                out / "profiles",
                f"{result.store}-{operation}",
            )
            if options.profile
            else None
        )
        with CpuWindow(server.pids, backends) as window:
            measured = load(options.seconds, "m", measured_base)
        profile = profiling.summarise(recording.finish()) if recording else None
        item = OperationResult(
            operation=operation,
            label=LABELS[operation],
            measured=measured,
            warmup=warmup,
            cpu=window.use.as_dict(),
            profile=profile,
        )
        if counter is not None:
            item.check = _check_writes(item, counter, before, ledger, fixtures, options)
            if not item.check["ok"]:
                result.problems.append(f"{operation}: stored writes disagree: {item.check}")
        if options.paced and operation not in UNPACED and measured.rps > 0:
            paced_base = measured_base + 10**10
            if mode == "redeem":
                paced_base = measured_base + measured.taken
            item.paced = load(
                options.seconds, "p", paced_base, rate=measured.rps * options.paced / 100
            )
        result.problems.extend(_response_problems(item))
        exhausted = measured.exhausted + (warmup.exhausted if warmup else 0)
        exhausted += item.paced.exhausted if item.paced else 0
        if exhausted:
            result.problems.append(
                f"{operation}: the {fixtures.codes:,} codes ran out ({exhausted:,} requests "
                "after that, counted bad): raise --codes"
            )
        result.operations.append(item)
        paced = item.paced
        say(
            f"  {operation:12} {measured.rps:9,.1f}/s  p50 {measured.p50_ms:6.2f} ms  "
            f"p99 {measured.p99_ms:7.2f} ms  bad {measured.bad_responses}"
            + (
                f"  | paced {paced.rps:,.1f}/s p99 {paced.p99_ms:.2f} ms"
                if paced is not None
                else ""
            )
        )


def _drain(
    server: PatronServer,
    fixtures: Fixtures,
    ledger: Ledger,
    options: Options,
    hot_rate: float | None,
    out: Path,
    say: Say,
) -> dict[str, Any]:
    """A wallet holding exactly N spends, hit by every connection: N succeed, the rest are
    refused, the balance ends at zero, never below. Exact, because once the wallet is empty
    no request in flight at the stop can still succeed. The run lasts long enough to empty
    it at half the rate the hot-wallet run measured."""
    assert fixtures.drain_wallet is not None
    seconds = options.drain_seconds
    if hot_rate:
        seconds = max(seconds, min(120, math.ceil(2 * options.drain_spends / hot_rate) + 1))
    run = run_wrk(
        f"{server.base_url}/graphql",
        "drain",
        fixtures.tenant.token,
        seconds,
        WrkSettings(connections=options.connections, threads=options.threads),
        uuid_file=fixtures.drain_file,
        log=out / "wrk-drain.log",
    )
    ledger.settle(lambda: ledger.spends(fixtures.drain_wallet))
    state = ledger.wallet(fixtures.drain_wallet)
    entries = state["spend_entries"]
    drained = state["balance_minor"] == 0
    check: dict[str, Any] = {
        "seconds": seconds,
        "funded_spends": options.drain_spends,
        "successes": run.successes,
        "refused_insufficient": run.refused,
        "bad_responses": run.bad_responses,
        **state,
        "entries": entries,
        "drained": drained,
        "ok": drained
        and run.successes == entries == options.drain_spends
        and run.bad_responses == 0
        and (state["lowest_balance_after_minor"] or 0) >= 0,
    }
    if not drained:
        check["note"] = "the wallet was not emptied in time: raise --drain-seconds"
    say(
        f"  drain   {run.successes} of {options.drain_spends} spends succeeded, "
        f"{run.refused} refused, balance {state['balance_minor']}: "
        + ("exact" if check["ok"] else "FAILED")
    )
    return check


def _bounds(
    store: Store,
    fixtures: Fixtures,
    backends: Callable[[], list[int]] | None,
    options: Options,
    result: StoreResult,
    say: Say,
) -> None:
    assert fixtures.bound_tenant is not None
    assert fixtures.bound_hot_wallet is not None
    connections = (
        options.bound_connections_sqlite
        if store.kind == "sqlite"
        else options.bound_connections_postgresql
    )
    targets = []
    if "spend" in options.operations:
        targets.append(("spend", "random wallets", fixtures.bound_wallets))
    if "hot" in options.operations:
        targets.append(("hot", "one hot wallet", [fixtures.bound_hot_wallet]))
    variants = [(False, 1), (True, 1)] if store.kind == "postgresql" else [(False, 1)]
    if options.bound_batch > 1:
        variants.append((False, options.bound_batch))
    for one_statement, batch in variants:
        for name, target, wallets in targets:
            # Patron writes one batch per worker process at a time: so does the batched bound.
            width = min(connections, options.workers) if batch > 1 else connections
            with CpuWindow(None, backends) as window:
                if store.kind == "sqlite":
                    assert store.sqlite_path is not None
                    outcome = bare.sqlite_bound(
                        store.sqlite_path,
                        fixtures.bound_tenant.uuid,
                        wallets,
                        connections=width,
                        warmup=options.warmup,
                        seconds=options.seconds,
                        target=target,
                        batch=batch,
                    )
                else:
                    outcome = bare.postgresql_bound(
                        store.libpq_url,
                        fixtures.bound_tenant.uuid,
                        wallets,
                        connections=width,
                        warmup=options.warmup,
                        seconds=options.seconds,
                        target=target,
                        one_statement=one_statement,
                        batch=batch,
                    )
            outcome.cpu = window.use.as_dict()
            if outcome.errors:
                result.problems.append(
                    f"bound {target}: {outcome.errors} errors: {outcome.first_error}"
                )
            suffix = "-cte" if one_statement else f"-batch{batch}" if batch > 1 else ""
            result.bounds[name + suffix] = outcome
            say(
                f"  bound   {target}, {outcome.statements}: {outcome.rate:,.1f}/s with "
                f"{width} connection(s), p50 {outcome.p50_ms:.2f} ms, "
                f"p99 {outcome.p99_ms:.2f} ms"
            )


def _read_bounds(
    store: Store,
    fixtures: Fixtures,
    backends: Callable[[], list[int]] | None,
    options: Options,
    result: StoreResult,
    say: Say,
) -> None:
    """The bare SQL of the known reads ``get`` and ``list``, captured from Patron's plans."""
    uuids = fixtures.contact_file.read_text().split()[: options.bound_reads]
    connections = (
        options.workers if store.kind == "sqlite" else options.bound_connections_postgresql
    )
    for operation in ("get", "list"):
        if operation not in options.operations:
            continue
        requests = reads_bound.capture(store.url, fixtures.tenant.token, operation, uuids)
        with CpuWindow(None, backends) as window:
            if store.kind == "sqlite":
                assert store.sqlite_path is not None
                outcome = reads_bound.sqlite_read_bound(
                    store.sqlite_path,
                    requests,
                    operation=operation,
                    connections=connections,
                    warmup=options.warmup,
                    seconds=options.seconds,
                )
            else:
                outcome = reads_bound.postgresql_read_bound(
                    store.libpq_url,
                    requests,
                    operation=operation,
                    connections=connections,
                    warmup=options.warmup,
                    seconds=options.seconds,
                )
        outcome.cpu = window.use.as_dict()
        if outcome.errors:
            result.problems.append(
                f"bound {outcome.target}: {outcome.errors} errors: {outcome.first_error}"
            )
        result.bounds[f"{operation}-sql"] = outcome
        say(
            f"  bound   {outcome.target}, bare SQL ({outcome.statements}): "
            f"{outcome.rate:,.1f}/s with {connections} connection(s), "
            f"p50 {outcome.p50_ms:.2f} ms, p99 {outcome.p99_ms:.2f} ms"
        )


# The floors under a request (``bench.floor``): what each costs with no Patron code in it.
FLOORS = {
    "http": "uvicorn + Starlette + orjson, a fixed answer",
    "graphql": "the same + Strawberry (caches on), fixed objects",
}
FLOOR_OPERATIONS = ("get", "create")


def _floor_load(
    url: str,
    operation: str,
    fixtures: Fixtures,
    seconds: int,
    settings: WrkSettings,
    out: Path,
    result: StoreResult,
) -> WrkResult:
    return run_wrk(
        url,
        operation,
        fixtures.tenant.token,
        seconds,
        settings,
        uuid_file=fixtures.contact_file if operation == "get" else None,
        prefix="floor",
        log=out / f"wrk-{result.store}.log",
    )


def _measure_floor(
    server: FloorServer,
    operation: str,
    what: str,
    key: str,
    fixtures: Fixtures,
    options: Options,
    out: Path,
    result: StoreResult,
    say: Say,
    backends: Callable[[], list[int]] | None = None,
) -> None:
    """``operation`` sent to a running floor server: its rate, as a bound named ``key``;
    ``backends``: the database's processes, for a floor that reads the store."""
    settings = WrkSettings(connections=options.connections, threads=options.threads)
    url = f"{server.base_url}/graphql"
    if options.warmup:
        _floor_load(url, operation, fixtures, options.warmup, settings, out, result)
    with CpuWindow(server.pids, backends) as window:
        measured = _floor_load(url, operation, fixtures, options.seconds, settings, out, result)
    outcome = bare.BoundResult(
        target=LABELS[operation],
        statements=what,
        connections=options.connections,
        seconds=measured.duration_s,
        committed=measured.successes,
        refused=0,
        errors=measured.bad_responses + measured.socket_errors,
        rate=measured.rps,
        p50_ms=measured.p50_ms,
        p99_ms=measured.p99_ms,
        first_error=measured.first_bad,
        cpu=window.use.as_dict(),
    )
    if outcome.errors:
        result.problems.append(f"floor {key}: {outcome.errors} bad: {outcome.first_error}")
    result.bounds[key] = outcome
    say(
        f"  floor   {key:24} {outcome.rate:9,.1f}/s  "
        f"p50 {outcome.p50_ms:.2f} ms  p99 {outcome.p99_ms:.2f} ms ({what})"
    )


def _floors(fixtures: Fixtures, options: Options, out: Path, result: StoreResult, say: Say) -> None:
    """``get`` and ``create`` sent as to Patron, to a server with no store and no Patron code
    (``bench.floor``): the HTTP layer's floor and an ordinary GraphQL server's, in this run."""
    operations = [name for name in FLOOR_OPERATIONS if name in options.operations]
    for kind, what in FLOORS.items():
        server = FloorServer(kind, workers=options.workers, log=out / f"floor-{kind}.log")
        try:
            server.start()
            for operation in operations:
                key = f"{operation}-{kind}"
                _measure_floor(server, operation, what, key, fixtures, options, out, result, say)
        finally:
            server.stop()


# Serving models for a read (``--serving-models``): the known read's own SQL, no Patron code.
SERVING_MODELS = (
    ("sql-loop", "uvicorn", "uvicorn, blocking driver on the event loop (Patron's known reads)"),
    ("sql-threads", "uvicorn", "uvicorn, blocking driver in the thread pool"),
    ("sql-async", "uvicorn", "uvicorn, psycopg's async driver on the event loop"),
    ("sql-loop", "granian", "Granian, blocking driver on the event loop"),
)


def _serving_models(
    store: Store,
    fixtures: Fixtures,
    backends: Callable[[], list[int]] | None,
    options: Options,
    out: Path,
    result: StoreResult,
    say: Say,
) -> None:
    """One contact by uuid, its statements as Patron's plan sends them, served four ways."""
    uuids = fixtures.contact_file.read_text().split()[: options.bound_reads]
    captured = reads_bound.capture(store.url, fixtures.tenant.token, "get", uuids)
    requests = out / f"serving-{result.store}.json"
    requests.write_bytes(orjson.dumps(dict(zip(uuids, captured, strict=True)), default=str))
    env = {"BENCH_FLOOR_DSN": store.libpq_url, "BENCH_FLOOR_REQUESTS": str(requests)}
    for kind, server_name, what in SERVING_MODELS:
        server = FloorServer(
            kind,
            workers=options.workers,
            log=out / f"floor-{kind}-{server_name}.log",
            server=server_name,
            env=env,
        )
        try:
            server.start()
            key = f"get-{kind}-{server_name}"
            _measure_floor(server, "get", what, key, fixtures, options, out, result, say, backends)
        finally:
            server.stop()


def _request_bounds(
    store: Store,
    fixtures: Fixtures,
    backends: Callable[[], list[int]] | None,
    options: Options,
    out: Path,
    result: StoreResult,
    say: Say,
) -> None:
    """What bounds a request from below: the bare SQL of the known reads, and the floors."""
    if {"get", "list"} & set(options.operations):
        _read_bounds(store, fixtures, backends, options, result, say)
    if set(FLOOR_OPERATIONS) & set(options.operations):
        _floors(fixtures, options, out, result, say)
    if options.serving_models and store.kind == "postgresql" and "get" in options.operations:
        _serving_models(store, fixtures, backends, options, out, result, say)


def _autovacuum_off(store: Store) -> bool:
    """Whether ``store`` is a PostgreSQL server whose autovacuum is off."""
    if store.kind != "postgresql":
        return False
    with psycopg.connect(store.libpq_url, autocommit=True) as connection:
        found = connection.execute("SHOW autovacuum").fetchone()
    return found is not None and found[0] == "off"


def _run_sql(store: Store, statement: LiteralString) -> Callable[[], None]:
    """Run ``statement`` on ``store`` (PostgreSQL) on a connection of its own, outside any
    transaction."""

    def run() -> None:
        with psycopg.connect(store.libpq_url, autocommit=True) as connection:
            connection.execute(statement)

    return run


def _statistics_keeper(store: Store, say: Say) -> Callable[[], None] | None:
    """On a PostgreSQL server whose autovacuum is off: an ANALYZE before each operation and
    after its warm-up, as autovacuum would have run by then on a server as configured by
    default. Without it the tables the previous operation filled (orders, after ``order``)
    keep the statistics of their empty state, and the plans the server caches for its
    prepared statements read them in full (a Lightfunnels page, 8 ms of database time instead
    of 0.6; ``recordOrder`` looking its external id up in every order recorded so far, half
    its rate)."""
    if not _autovacuum_off(store):
        return None
    say(
        "  autovacuum is off on this server: ANALYZE before each operation and after its"
        " warm-up, as it would run"
    )
    return _run_sql(store, "ANALYZE")


def _vacuum_keeper(store: Store) -> Callable[[], None] | None:
    """On a PostgreSQL server whose autovacuum is off: a VACUUM (ANALYZE), as autovacuum
    would run during a long seeding. Without it each code's hold updates the account's day
    total and its wallet, row versions pile up unvacuumed, and the codes were made at 505/s
    for 22,000 but 163/s for 63,000."""
    return _run_sql(store, "VACUUM (ANALYZE)") if _autovacuum_off(store) else None


def _settle_store(store: Store, say: Say) -> None:
    """Start from a store in steady state: seeding wrote tens of thousands of rows, and
    autovacuum would otherwise vacuum and analyse them during the first measured operation
    (PostgreSQL), or the reads would go through a large write-ahead log (SQLite)."""
    started = time.monotonic()
    if store.kind == "postgresql":
        with psycopg.connect(store.libpq_url, autocommit=True) as connection:
            connection.execute("VACUUM (ANALYZE)")
        what = "VACUUM (ANALYZE)"
    else:
        assert store.sqlite_path is not None
        with closing(sqlite3.connect(store.sqlite_path)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        what = "WAL checkpoint"
    say(f"  store settled after seeding: {what} in {time.monotonic() - started:.1f} s")


def _outbox(
    db: Database,
    store: Store,
    fixtures: Fixtures,
    backends: Callable[[], list[int]] | None,
    options: Options,
    result: StoreResult,
    say: Say,
) -> None:
    if "outbox" in options.operations:
        result.outbox = run_outbox(db, store, options.outbox_events, backends, say)
        if not result.outbox.check["ok"]:
            result.problems.append(f"outbox: {result.outbox.check}")
    if "outboxcost" in options.operations:
        wallets = fixtures.wallet_file.read_text().split()
        result.outbox_cost = run_outbox_cost(
            db, store, fixtures.tenant, wallets, options.outbox_cost_writes, backends, say
        )
        for cost in result.outbox_cost:
            if not cost.check["ok"]:
                result.problems.append(f"outboxcost {cost.command}: {cost.check}")


def run_store(kind: str, options: Options, workdir: Path, out: Path, say: Say) -> StoreResult:
    say(f"== {kind}")
    with ExitStack() as stack:
        store = stack.enter_context(open_store(kind, workdir))
        result = StoreResult(store=kind, origin=store.origin, settings=store.settings)
        say(f"  store: {store.origin}")
        patron_command("migrate", "--database", store.url)
        db = Database(store.url, pool_size=8)
        stack.callback(db.dispose)
        fixtures = _seed(db, store, options, workdir, result, say)
        _settle_store(store, say)
        ledger = Ledger(db, fixtures.tenant.uuid)
        backends = stack.enter_context(backend_pids(store.url))
        server = PatronServer(
            store.url,
            workers=options.workers,
            log=out / f"server-{kind}.log",
            env=options.server_env,
            server=options.server,
        )
        stack.callback(server.stop)
        server.start()
        say(f"  {options.server} serving Patron on {server.base_url}, {options.workers} worker(s)")
        _load_operations(
            server,
            fixtures,
            ledger,
            backends,
            options,
            out,
            result,
            say,
            between=_statistics_keeper(store, say),
        )
        if "hot" in options.operations:
            hot = result.operation("hot")
            hot_rate = hot.measured.rps if hot else None
            result.drain = _drain(server, fixtures, ledger, options, hot_rate, out, say)
            if not result.drain["ok"]:
                result.problems.append(f"hot wallet drain: {result.drain}")
        server.stop()
        _outbox(db, store, fixtures, backends, options, result, say)
        if "console" in options.operations:
            customer = fixtures.contact_file.read_text().split()[0]
            if options.console_entries:
                Progress(say).step(
                    "  entries written today for the console",
                    options.console_entries,
                    lambda: seed_ops.write_entries(
                        db,
                        fixtures.tenant,
                        fixtures.wallet_file.read_text().split(),
                        options.console_entries,
                    ),
                )
            say("  console pages, timed in-process (goal: 50 ms each)")
            result.console = run_console(store.url, fixtures.tenant.uuid, customer, "seeded", say)
        if "sweep" in options.operations:
            lots = options.lots or DEFAULT_LOTS[kind]
            result.sweep = run_sweep(db, store, fixtures.tenant.uuid, lots, backends, say)
            if not result.sweep.check["ok"]:
                result.problems.append(f"sweep: {result.sweep.check}")
        if "moving" in options.operations:
            result.moving = run_moving(store.url, options.moving_rows, workdir, say)
            if not result.moving.check["ok"]:
                result.problems.append(f"moving: {result.moving.check}")
        if fixtures.bound_tenant is not None:
            _bounds(store, fixtures, backends, options, result, say)
        if options.bound:
            _request_bounds(store, fixtures, backends, options, out, result, say)
        verified = patron_json("ledger", "verify", "--database", store.url, allow_failure=True)
        result.ledger = {key: verified.get(key) for key in ("ok", "wallets", "entries", "problems")}
        if not verified.get("ok"):
            result.problems.append(f"patron ledger verify: {verified.get('problems')}")
        say(
            f"  patron ledger verify: {'ok' if verified.get('ok') else 'FAILED'} "
            f"({verified.get('wallets'):,} wallets, {verified.get('entries'):,} entries)"
        )
        return result
    raise AssertionError("unreachable")  # pragma: no cover
