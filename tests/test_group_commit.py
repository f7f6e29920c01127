"""Group commit: concurrent commands of one process written as one transaction, a savepoint
each, one COMMIT; each caller answered with its own result or error (``core/unit.py``).

A batch is made deterministic here: one command holds the writer while the others queue
behind it, so that they are written together as the next batch.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from patron.core.db import Database
from patron.core.errors import Conflict, InvalidInput
from patron.core.unit import (
    CAREFUL_BATCHES,
    GroupCommit,
    group_of,
    group_stats,
    run_command,
)
from patron.customers import service as customers
from patron.customers.models import NewCustomer
from patron.wallets import service as wallets
from patron.wallets.ledger import InsufficientCredit
from patron.wallets.models import EntryCommand
from patron.wallets.verify import verify_ledger
from tests.support.databases import grouped_store, own_store
from tests.support.ledger import entry_rows
from tests.support.tenants import Tenant, fund, make_contact, new_tenant


@pytest.fixture
def store(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Database]:
    with grouped_store(request, database_url, tmp_path) as db:
        yield db


def group(db: Database) -> GroupCommit:
    found = group_of(db)
    assert found is not None
    return found


def in_one_batch(db: Database, calls: list[Callable[[], Any]]) -> list[Future[Any]]:
    """Run ``calls`` while a first command holds the writer: each queues before the next is
    sent (so the batch holds them in this order), then they are written together as the
    next batch."""
    release = threading.Event()
    entered = threading.Event()

    def hold(_connection: Connection) -> None:
        entered.set()
        assert release.wait(10)

    pool = ThreadPoolExecutor(len(calls) + 1)
    holder = pool.submit(run_command, db, hold)
    assert entered.wait(10)
    futures = []
    for count, call in enumerate(calls, start=1):
        futures.append(pool.submit(call))
        deadline = time.monotonic() + 10
        while group(db).waiting < count:
            assert time.monotonic() < deadline, "the command never queued"
            time.sleep(0.002)
    before = group_stats(db).batches
    release.set()
    holder.result(10)
    for future in futures:
        future.exception(10)
    pool.shutdown()
    assert group_stats(db).batches == before + 1, "they were not written as one batch"
    return futures


def spend(tenant: Tenant, wallet_uuid: str, amount: str, key: str | None = None) -> Any:
    return wallets.post_entry(
        _db_of[tenant.uuid],
        tenant.principal,
        EntryCommand(
            wallet_uuid=wallet_uuid,
            action="SPEND",
            credit_type="GLOBAL",
            amount=Decimal(amount),
            idempotency_key=key,
        ),
    )


_db_of: dict[str, Database] = {}


def tenant_on(db: Database) -> Tenant:
    tenant = new_tenant(db)
    _db_of[tenant.uuid] = db
    return tenant


def test_one_failing_command_rolls_back_alone_and_the_others_commit(store: Database) -> None:
    tenant = tenant_on(store)
    wallet_uuid = make_contact(store, tenant).wallet_uuid
    fund(store, tenant, wallet_uuid, "10.00")
    taken = f"taken-{secrets.token_hex(4)}@example.com"

    def create(email: str) -> Callable[[], Any]:
        return lambda: customers.create_customer(
            store, tenant.principal, NewCustomer(profile={"email": email})
        )

    futures = in_one_batch(
        store,
        [
            lambda: spend(tenant, wallet_uuid, "3.00"),
            lambda: spend(tenant, wallet_uuid, "100.00"),  # more than is there
            create(taken),
            create(taken),  # the same e-mail, in the same batch
            lambda: spend(tenant, wallet_uuid, "2.00"),
        ],
    )

    first, too_much, created, twin, second = futures
    assert first.result().amount == 300
    assert isinstance(too_much.exception(), InsufficientCredit)
    assert created.result().customer.email == taken
    assert isinstance(twin.exception(), InvalidInput | Conflict)
    assert second.result().amount == 200
    rows = entry_rows(store, tenant.principal.account_id, wallet_uuid)
    assert [(row.action, row.amount) for row in rows] == [
        ("ADD", 1000),
        ("SPEND", 300),
        ("SPEND", 200),
    ]
    assert rows[-1].balance_after == 500
    assert verify_ledger(store).ok


def scratch_table(db: Database) -> str:
    table = f"gc_rows_{secrets.token_hex(4)}"
    with db.write() as connection:
        connection.execute(text(f"CREATE TABLE {table} (id INTEGER NOT NULL)"))
    return table


def scratch_ids(db: Database, table: str) -> list[int]:
    with db.read() as connection:
        return list(connection.execute(text(f"SELECT id FROM {table} ORDER BY id")).scalars())


def insert_then(db: Database, table: str, row_id: int, fail: bool = False) -> Callable[[], Any]:
    """A command that writes a row, then (``fail``) refuses: its row must not stay."""

    def command(connection: Connection) -> int:
        connection.execute(text(f"INSERT INTO {table} (id) VALUES (:id)"), {"id": row_id})
        if fail:
            raise InvalidInput(f"row {row_id} refused after it was written", field="id")
        return row_id

    return lambda: run_command(db, command)


def test_a_batch_whose_commands_all_succeed_is_written_without_savepoints(
    store: Database,
) -> None:
    table = scratch_table(store)
    settle_careful(store)
    before = group_stats(store)
    straight, rewritten = before.straight, before.rewritten

    futures = in_one_batch(store, [insert_then(store, table, n) for n in (1, 2, 3)])

    assert [future.result() for future in futures] == [1, 2, 3]
    assert group_stats(store).straight == straight + 1
    assert group_stats(store).rewritten == rewritten
    assert scratch_ids(store, table) == [1, 2, 3]


def test_a_command_that_fails_after_writing_leaves_nothing_and_the_others_commit(
    store: Database,
) -> None:
    """Written straight, the batch fails at its second command: it is rolled back whole and
    written again with a savepoint each, so the refused command's row is undone and the
    others are written once."""
    table = scratch_table(store)
    settle_careful(store)
    rewritten = group_stats(store).rewritten

    futures = in_one_batch(
        store,
        [
            insert_then(store, table, 1),
            insert_then(store, table, 2, fail=True),
            insert_then(store, table, 3),
        ],
    )

    assert futures[0].result() == 1
    assert isinstance(futures[1].exception(), InvalidInput)
    assert futures[2].result() == 3
    assert group_stats(store).rewritten == rewritten + 1
    assert scratch_ids(store, table) == [1, 3]


def test_after_a_failure_batches_keep_savepoints_for_a_while_then_go_straight_again(
    store: Database,
) -> None:
    table = scratch_table(store)
    settle_careful(store)
    in_one_batch(store, [insert_then(store, table, 1, fail=True), insert_then(store, table, 2)])
    straight = group_stats(store).straight

    for row_id in range(10, 10 + CAREFUL_BATCHES):
        in_one_batch(store, [insert_then(store, table, row_id), insert_then(store, table, -row_id)])
    assert group_stats(store).straight == straight  # each written with savepoints at once

    in_one_batch(store, [insert_then(store, table, 100), insert_then(store, table, 101)])
    assert group_stats(store).straight == straight + 1
    assert len(scratch_ids(store, table)) == 1 + 2 * CAREFUL_BATCHES + 2


def test_a_command_rolled_back_in_its_savepoint_leaves_no_ledger_entry_in_the_metrics(
    store: Database,
) -> None:
    """The metrics count a batch's entries at its COMMIT: those of a command rolled back to
    its savepoint (SQL of group commit's own, which SQLAlchemy's events do not see) are not."""
    from patron.core import metrics

    metrics.enable()
    metrics.instrument(store.engine)
    counted = metrics.LEDGER_ENTRIES.labels("REMOVE", "LOCAL")
    amount = metrics.LEDGER_AMOUNT.labels("REMOVE", "LOCAL")
    before, before_amount = counted._value.get(), amount._value.get()

    def entry(points: int, fail: bool = False) -> Callable[[], Any]:
        def command(connection: Connection) -> int:
            metrics.ledger_entry(connection, "REMOVE", "LOCAL", points, 0)
            if fail:
                raise InvalidInput("refused after its entry was counted", field="amount")
            return points

        return lambda: run_command(store, command)

    settle_careful(store)
    futures = in_one_batch(store, [entry(3), entry(500, fail=True), entry(4)])

    assert [future.exception() is None for future in futures] == [True, False, True]
    assert counted._value.get() - before == 2
    assert amount._value.get() - before_amount == 7


def settle_careful(db: Database) -> None:
    """Write clean batches until the store's batches go straight (an earlier test's failure
    may have left it writing with savepoints for a while)."""
    table = scratch_table(db)
    for _ in range(CAREFUL_BATCHES + 1):
        straight = group_stats(db).straight
        in_one_batch(db, [insert_then(db, table, 1), insert_then(db, table, 2)])
        if group_stats(db).straight > straight:
            return
    raise AssertionError("the batches never went straight")


def test_an_idempotent_retry_inside_and_across_batches_returns_the_first_result(
    store: Database,
) -> None:
    tenant = tenant_on(store)
    wallet_uuid = make_contact(store, tenant).wallet_uuid
    fund(store, tenant, wallet_uuid, "10.00")
    key = f"key-{secrets.token_hex(4)}"

    futures = in_one_batch(store, [lambda: spend(tenant, wallet_uuid, "1.00", key)] * 4)
    uuids = {future.result().uuid for future in futures}
    assert len(uuids) == 1

    later = in_one_batch(store, [lambda: spend(tenant, wallet_uuid, "1.00", key)] * 3)
    assert {future.result().uuid for future in later} == uuids
    spends = [
        row
        for row in entry_rows(store, tenant.principal.account_id, wallet_uuid)
        if row.action == "SPEND"
    ]
    assert len(spends) == 1


def test_a_failed_commit_runs_every_command_of_the_batch_again_on_its_own(
    store: Database,
) -> None:
    """A deferred constraint fails only at COMMIT: the batch is lost whole, and each command
    is written again alone, so the good ones commit and only the bad one fails."""
    suffix = secrets.token_hex(4)
    parent, child = f"gc_parent_{suffix}", f"gc_child_{suffix}"
    with store.write() as connection:
        connection.execute(text(f"CREATE TABLE {parent} (id INTEGER PRIMARY KEY)"))
        connection.execute(
            text(
                f"CREATE TABLE {child} (id INTEGER PRIMARY KEY, parent_id INTEGER "
                f"REFERENCES {parent} (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
        connection.execute(text(f"INSERT INTO {parent} (id) VALUES (1)"))

    def insert(row_id: int, parent_id: int) -> Callable[[], Any]:
        def command(connection: Connection) -> int:
            connection.execute(
                text(f"INSERT INTO {child} (id, parent_id) VALUES (:id, :parent)"),
                {"id": row_id, "parent": parent_id},
            )
            return row_id

        return lambda: run_command(store, command)

    alone_before = group_stats(store).alone_after_batch
    futures = in_one_batch(store, [insert(1, 1), insert(2, 99), insert(3, 1)])

    assert futures[0].result() == 1
    assert futures[1].exception() is not None  # no parent 99: refused at its own COMMIT
    assert futures[2].result() == 3
    assert group_stats(store).alone_after_batch == alone_before + 3
    with store.read() as connection:
        ids = connection.execute(text(f"SELECT id FROM {child} ORDER BY id")).scalars().all()
    assert ids == [1, 3]


def test_64_threads_draining_one_hot_wallet_end_at_exactly_zero(store: Database) -> None:
    drain_with_64_threads(store)


def test_64_threads_on_three_lanes_drain_one_hot_wallet_to_exactly_zero(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> None:
    with own_store(request, database_url, tmp_path) as url:
        db = Database(url, pool_size=6, group_commit=64, group_lanes=3)
        try:
            drain_with_64_threads(db)
        finally:
            db.dispose()


def test_lanes_write_that_many_batches_at_once(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> None:
    with own_store(request, database_url, tmp_path) as url:
        db = Database(url, pool_size=4, group_commit=64, group_lanes=2)
        try:
            tenant = tenant_on(db)
            first_in = threading.Event()
            second_in = threading.Event()

            # SQLite's writers take turns whatever the setting: it keeps one lane.
            lanes = 1 if db.is_sqlite else 2
            assert db.group_lanes == lanes
            wait = 10.0 if lanes == 2 else 0.5

            def first(connection: Connection) -> bool:
                first_in.set()
                return second_in.wait(wait)  # true only if the second runs meanwhile

            def second(connection: Connection) -> bool:
                second_in.set()
                return first_in.is_set()

            with ThreadPoolExecutor(2) as pool:
                one = pool.submit(run_command, db, first)
                assert first_in.wait(10)
                two = pool.submit(run_command, db, second)
                assert one.result(20) is (lanes == 2)
                assert two.result(20) is True
            assert make_contact(db, tenant).wallet_uuid  # the lanes are free again
        finally:
            db.dispose()


def drain_with_64_threads(store: Database) -> None:
    tenant = tenant_on(store)
    wallet_uuid = make_contact(store, tenant).wallet_uuid
    fund(store, tenant, wallet_uuid, "5.00")
    successes: list[str] = []
    refusals = 0
    lock = threading.Lock()

    def client() -> None:
        nonlocal refusals
        for _ in range(12):
            try:
                entry = spend(tenant, wallet_uuid, "0.01")
            except InsufficientCredit:
                with lock:
                    refusals += 1
            else:
                with lock:
                    successes.append(entry.uuid)

    threads = [threading.Thread(target=client) for _ in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(successes) == 500
    assert refusals == 64 * 12 - 500
    spends = [
        row
        for row in entry_rows(store, tenant.principal.account_id, wallet_uuid)
        if row.action == "SPEND"
    ]
    assert {row.uuid for row in spends} == set(successes)
    assert min(row.balance_after for row in spends) == 0
    assert verify_ledger(store).ok
    stats = group_stats(store)
    assert stats.largest > 1, "64 threads never formed a batch"


def test_group_commit_off_writes_each_command_alone(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> None:
    with own_store(request, database_url, tmp_path) as url:
        db = Database(url, pool_size=2, group_commit=1)
        try:
            assert group_of(db) is None
            tenant = tenant_on(db)
            wallet_uuid = make_contact(db, tenant).wallet_uuid
            assert fund(db, tenant, wallet_uuid, "1.00").amount == 100
        finally:
            db.dispose()


def test_a_batch_whose_commit_meets_a_broken_connection_is_not_written_twice(
    store: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failover can break the connection after the server wrote the COMMIT: the batch may
    be there. Each caller gets the error (a 503, to retry with its idempotency key); nothing is
    run again, which could apply a write twice."""
    table = f"gc_doubt_{secrets.token_hex(4)}"
    with store.write() as connection:
        connection.execute(text(f"CREATE TABLE {table} (id INTEGER NOT NULL)"))
    real_write = store.write

    @contextmanager
    def committed_then_lost() -> Iterator[Connection]:
        with real_write() as connection:
            yield connection
        lost = Exception("server closed the connection unexpectedly")
        raise OperationalError("COMMIT", {}, lost)

    def insert(row_id: int) -> Callable[[], Any]:
        def command(connection: Connection) -> int:
            connection.execute(text(f"INSERT INTO {table} (id) VALUES (:id)"), {"id": row_id})
            return row_id

        return lambda: run_command(store, command)

    release = threading.Event()
    entered = threading.Event()

    def hold(_connection: Connection) -> None:
        entered.set()
        assert release.wait(10)

    pool = ThreadPoolExecutor(4)
    holder = pool.submit(run_command, store, hold)
    assert entered.wait(10)
    futures = [pool.submit(insert(n)) for n in (1, 2, 3)]
    deadline = time.monotonic() + 10
    while group(store).waiting < 3:
        assert time.monotonic() < deadline, "the commands never queued"
        time.sleep(0.005)
    monkeypatch.setattr(store, "write", committed_then_lost)  # the holder already writes
    release.set()
    holder.result(10)
    errors = [future.exception(10) for future in futures]
    pool.shutdown()
    monkeypatch.setattr(store, "write", real_write)

    assert all(isinstance(error, OperationalError) for error in errors), errors
    with store.read() as connection:
        ids = connection.execute(text(f"SELECT id FROM {table} ORDER BY id")).scalars().all()
    assert ids == [1, 2, 3]  # written once, by the batch whose answer was lost


def test_a_batch_takes_its_wallets_in_order_and_one_wallets_commands_as_they_came(
    store: Database,
) -> None:
    """Commands naming the row they lock first run by it; the rest after, as they came. Two
    batches moving the same wallets then lock them in the same order: no deadlock."""
    ran: list[str] = []

    def command(name: str, lock_key: str | None) -> Callable[[], str]:
        def write(_connection: Connection) -> str:
            ran.append(name)
            return name

        return lambda: run_command(store, write, lock_key=lock_key)

    calls = [
        command("order", None),
        command("c-1", "c"),
        command("a-1", "a"),
        command("c-2", "c"),
        command("profile", None),
        command("b-1", "b"),
        command("a-2", "a"),
    ]
    futures = in_one_batch(store, calls)

    assert [future.result() for future in futures] == [
        "order", "c-1", "a-1", "c-2", "profile", "b-1", "a-2"
    ]  # fmt: skip
    assert ran == ["a-1", "a-2", "b-1", "c-1", "c-2", "order", "profile"]


def test_a_batch_of_spends_moves_its_wallets_in_their_order(store: Database) -> None:
    tenant = tenant_on(store)
    wallet_uuids = [make_contact(store, tenant).wallet_uuid for _ in range(3)]
    for wallet_uuid in wallet_uuids:
        fund(store, tenant, wallet_uuid, "10.00")
    arriving = sorted(wallet_uuids, reverse=True)

    in_one_batch(
        store, [lambda wallet=wallet: spend(tenant, wallet, "1.00") for wallet in arriving]
    )

    spends = [row for row in entry_rows(store, tenant.uuid) if row.action == "SPEND"]
    in_writing_order = [row.wallet_uuid for row in sorted(spends, key=lambda row: row.created_at)]
    assert in_writing_order == sorted(wallet_uuids)


def test_commands_that_deadlock_are_run_again_and_each_is_written_once(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> None:
    with own_store(request, database_url, tmp_path) as url:
        db = Database(url, pool_size=4, group_commit=1)
        try:
            with db.write() as connection:
                connection.execute(
                    text("CREATE TABLE deadlock_probe (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
                )
                connection.execute(text("INSERT INTO deadlock_probe VALUES (1, 0), (2, 0)"))
            # PostgreSQL: both commands hold their first row before asking for the other's, so
            # one of them is rolled back to break the deadlock. SQLite's writers take turns.
            both_hold = threading.Barrier(1 if db.is_sqlite else 2)
            attempts: list[int] = []

            def crossing(first: int, second: int) -> Callable[[Connection], int]:
                def command(connection: Connection) -> int:
                    attempts.append(first)
                    bump = text("UPDATE deadlock_probe SET n = n + 1 WHERE id = :id")
                    connection.execute(bump, {"id": first})
                    if attempts.count(first) == 1:
                        both_hold.wait(10)
                    connection.execute(bump, {"id": second})
                    return first

                return command

            with ThreadPoolExecutor(2) as pool:
                one = pool.submit(run_command, db, crossing(1, 2))
                two = pool.submit(run_command, db, crossing(2, 1))
                assert (one.result(30), two.result(30)) == (1, 2)

            with db.read() as connection:
                counts = connection.execute(text("SELECT n FROM deadlock_probe ORDER BY id"))
                assert list(counts.scalars()) == [2, 2]  # each command written exactly once
            if not db.is_sqlite:
                assert len(attempts) == 3  # the deadlock's victim ran again
        finally:
            db.dispose()


def test_contacts_that_take_the_same_values_in_one_batch_get_the_named_errors(
    store: Database,
) -> None:
    """createContact leaves the unique values to the store's constraints on its first try:
    a clash inside a batch rolls back only that command, whose second run names the value."""
    from patron.customers.service import EmailTaken, IdentityTaken

    tenant = tenant_on(store)
    tag = str(secrets.randbelow(10**8))

    def create(email: str, shopify: str) -> Any:
        return customers.create_customer(
            store,
            tenant.principal,
            NewCustomer(profile={"email": email}, identities={"SHOPIFY": shopify}),
        )

    futures = in_one_batch(
        store,
        [
            lambda: create(f"first-{tag}@example.com", f"1{tag}"),
            lambda: create(f"First-{tag}@Example.com", f"2{tag}"),  # the same email
            lambda: create(f"third-{tag}@example.com", f"1{tag}"),  # the same Shopify id
            lambda: create(f"fourth-{tag}@example.com", f"4{tag}"),
        ],
    )
    assert futures[0].exception() is None
    assert futures[3].exception() is None
    assert isinstance(futures[1].exception(), EmailTaken)
    assert isinstance(futures[2].exception(), IdentityTaken)
    with store.read() as connection:
        emails = connection.execute(
            text("SELECT email FROM customers WHERE account_id = :a ORDER BY number"),
            {"a": tenant.uuid},
        ).scalars()
        assert list(emails) == [f"first-{tag}@example.com", f"fourth-{tag}@example.com"]
    assert verify_ledger(store).ok


def test_a_contact_that_takes_nothing_is_written_without_reading_for_clashes(
    store: Database,
) -> None:
    from sqlalchemy import event

    tenant = tenant_on(store)
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        customers.create_customer(
            store,
            tenant.principal,
            NewCustomer(profile={"email": "alone@example.com"}, identities={"SHOPIFY": "99"}),
        )
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert [s for s in seen if s.lstrip().upper().startswith("SELECT")] == []
