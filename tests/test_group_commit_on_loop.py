"""Group commit for work on the event loop (``core/on_loop.py``, ``GroupCommit.run_on_loop``).

A known mutation runs on the worker's event loop: its command waits there for
the loop's next batch while the loop serves other requests. The batch is written once every
request the loop already holds has reached its command, so commands started together share
one transaction, a savepoint each, with the same rules as the threads' batches.
"""

from __future__ import annotations

import asyncio
import contextvars
import fcntl
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from patron.accounts import repository as accounts_repository
from patron.accounts import service as accounts
from patron.core import on_loop
from patron.core.db import Database, Rerun, WriterQueue, confirm_writes
from patron.core.unit import group_stats
from patron.wallets import service as wallets
from patron.wallets.ledger import InsufficientCredit
from patron.wallets.models import EntryCommand
from patron.wallets.verify import verify_ledger
from tests.support.databases import grouped_store, own_store
from tests.support.ledger import entry_rows
from tests.support.server import ThreadServer
from tests.support.tenants import Tenant, fund, make_contact, new_tenant


def spend(
    db: Database, tenant: Tenant, wallet_uuid: str, amount: str, key: str | None = None
) -> Any:
    return wallets.post_entry(
        db,
        tenant.principal,
        EntryCommand(
            wallet_uuid=wallet_uuid,
            action="SPEND",
            credit_type="GLOBAL",
            amount=Decimal(amount),
            idempotency_key=key,
        ),
    )


@pytest.fixture
def store(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Database]:
    with grouped_store(request, database_url, tmp_path) as db:
        yield db


def spend_rows(db: Database, tenant: Tenant, wallet_uuid: str) -> list[Any]:
    """The wallet's SPEND entries, as stored."""
    rows = entry_rows(db, tenant.principal.account_id, wallet_uuid)
    return [row for row in rows if row.action == "SPEND"]


def together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Each call on the event loop at once, as the requests a loop holds: results or errors."""

    async def main() -> list[Any]:
        return await asyncio.gather(*(on_loop.run(call) for call in calls), return_exceptions=True)

    return asyncio.run(main())


# --- the bridge itself ---------------------------------------------------------------------


def test_work_on_the_loop_waits_without_holding_the_loop() -> None:
    order: list[str] = []

    def work(name: str) -> str:
        order.append(f"{name} starts")
        value: str = on_loop.wait(asyncio.sleep(0.01, result=name.upper()))
        order.append(f"{name} resumes")
        return value

    async def main() -> list[str]:
        return list(await asyncio.gather(on_loop.run(work, "a"), on_loop.run(work, "b")))

    assert asyncio.run(main()) == ["A", "B"]
    # Both started before either resumed: the first one's wait let the loop go on.
    assert order[:2] == ["a starts", "b starts"]


def test_an_error_awaited_on_the_loop_is_raised_in_the_work() -> None:
    async def fails() -> None:
        raise ValueError("from the loop")

    def work() -> str:
        try:
            on_loop.wait(fails())
        except ValueError as error:
            return f"caught {error}"
        return "not raised"

    assert asyncio.run(on_loop.run(work)) == "caught from the loop"


def test_the_work_sees_the_context_variables_of_its_task() -> None:
    variable: contextvars.ContextVar[str] = contextvars.ContextVar("variable", default="unset")

    async def main() -> str:
        variable.set("request 7")
        return await on_loop.run(variable.get)

    assert asyncio.run(main()) == "request 7"


def test_waiting_outside_the_loop_is_refused() -> None:
    assert not on_loop.active()
    sleeping = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="outside"):
        on_loop.wait(sleeping)
    sleeping.close()


# --- group commit on the loop ----------------------------------------------------------------


def test_commands_started_together_on_the_loop_share_one_batch(store: Database) -> None:
    tenant = new_tenant(store)
    wallet_uuid = make_contact(store, tenant).wallet_uuid
    fund(store, tenant, wallet_uuid, "5.00")
    before = group_stats(store).batches

    results = together([lambda: spend(store, tenant, wallet_uuid, "1.00")] * 8)

    assert group_stats(store).batches == before + 1
    assert group_stats(store).largest >= 8
    # Five fit the balance; the rest are refused each on its own, the others commit.
    refused = [result for result in results if isinstance(result, InsufficientCredit)]
    written = [result for result in results if not isinstance(result, BaseException)]
    assert len(written) == 5
    assert len(refused) == 3
    spends = spend_rows(store, tenant, wallet_uuid)
    assert {row.uuid for row in spends} == {entry.uuid for entry in written}
    assert min(row.balance_after for row in spends) == 0
    assert verify_ledger(store).ok


def test_an_idempotent_retry_in_a_loop_batch_returns_the_first_result(store: Database) -> None:
    tenant = new_tenant(store)
    wallet_uuid = make_contact(store, tenant).wallet_uuid
    fund(store, tenant, wallet_uuid, "10.00")
    key = f"key-{secrets.token_hex(4)}"

    first = together([lambda: spend(store, tenant, wallet_uuid, "1.00", key)] * 4)
    again = together([lambda: spend(store, tenant, wallet_uuid, "1.00", key)] * 2)

    assert len({entry.uuid for entry in first + again}) == 1
    spends = spend_rows(store, tenant, wallet_uuid)
    assert len(spends) == 1


# --- writes admitted on a remembered principal ------------------------------------------------


@pytest.fixture
def token_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each lookup of a token by its hash, as it happens (this process)."""
    seen: list[str] = []
    lookup = accounts_repository.token_by_hash

    def counted(connection: Any, token_hash: str) -> Any:
        seen.append(token_hash)
        return lookup(connection, token_hash)

    monkeypatch.setattr(accounts_repository, "token_by_hash", counted)
    return seen


def confirmed_spend(db: Database, tenant: Tenant, wallet_uuid: str, amount: str) -> Any:
    """A SPEND of a request admitted on the tenant's remembered principal."""
    confirm_writes(accounts.PrincipalConfirmer(tenant.token, tenant.principal))
    return spend(db, tenant, wallet_uuid, amount)


def test_a_batch_reads_the_token_of_its_commands_once(
    store: Database, token_reads: list[str]
) -> None:
    tenant = new_tenant(store)
    wallet_uuid = make_contact(store, tenant).wallet_uuid
    fund(store, tenant, wallet_uuid, "10.00")
    token_reads.clear()

    results = together([lambda: confirmed_spend(store, tenant, wallet_uuid, "1.00")] * 8)

    assert not [result for result in results if isinstance(result, BaseException)]
    assert len(spend_rows(store, tenant, wallet_uuid)) == 8
    assert token_reads == [accounts.hash_token(tenant.token)]


def test_a_token_revoked_before_the_write_stops_it_with_nothing_written(store: Database) -> None:
    tenant = new_tenant(store)
    wallet_uuid = make_contact(store, tenant).wallet_uuid
    fund(store, tenant, wallet_uuid, "10.00")
    assert tenant.principal.token_id is not None
    accounts.revoke_token(store, tenant.principal.token_id)

    results = together([lambda: confirmed_spend(store, tenant, wallet_uuid, "1.00")] * 3)

    assert all(isinstance(result, Rerun) for result in results)
    assert spend_rows(store, tenant, wallet_uuid) == []
    # Every write transaction of such a request checks, not only group-committed commands.
    confirm_writes(accounts.PrincipalConfirmer(tenant.token, tenant.principal))
    try:
        with pytest.raises(Rerun), store.write():
            pytest.fail("the write ran on a revoked token")
    finally:
        confirm_writes(None)


def test_an_account_changed_since_the_principal_was_remembered_reruns_the_write(
    store: Database,
) -> None:
    tenant = new_tenant(store)
    wallet_uuid = make_contact(store, tenant).wallet_uuid
    fund(store, tenant, wallet_uuid, "10.00")
    accounts.update_account_settings(store, tenant.uuid, {"test_marker": "changed"})

    results = together([lambda: confirmed_spend(store, tenant, wallet_uuid, "1.00")])

    assert isinstance(results[0], Rerun)
    assert spend_rows(store, tenant, wallet_uuid) == []
    fresh = accounts.authenticate(store, tenant.token)
    again = Tenant(tenant.uuid, tenant.token, fresh)
    assert not isinstance(
        together([lambda: confirmed_spend(store, again, wallet_uuid, "1.00")])[0], BaseException
    )


def test_a_request_confirmed_once_is_not_checked_again(
    store: Database, token_reads: list[str]
) -> None:
    """A request is admitted once, as a lookup of its own token admitted it once: a later
    transaction of the same request neither reads the token again nor reruns."""
    tenant = new_tenant(store)
    wallet_uuid = make_contact(store, tenant).wallet_uuid
    fund(store, tenant, wallet_uuid, "10.00")
    confirm = accounts.PrincipalConfirmer(tenant.token, tenant.principal)
    token_reads.clear()
    with store.write() as connection:
        confirm(connection)
    assert tenant.principal.token_id is not None
    accounts.revoke_token(store, tenant.principal.token_id)
    with store.write() as connection:
        confirm(connection)
    assert len(token_reads) == 1


def test_a_refusal_confirms_a_remembered_principal_unless_a_write_has(store: Database) -> None:
    """Before a refusal by scope, a principal not yet confirmed is read again (a token revoked
    since: ``Rerun``); once a write of the request has confirmed it, the refusal stands as it
    is, and the request is never run twice."""
    tenant = new_tenant(store)
    assert tenant.principal.token_id is not None
    confirmed = accounts.PrincipalConfirmer(tenant.token, tenant.principal)
    pending = accounts.PrincipalConfirmer(tenant.token, tenant.principal)
    with store.write() as connection:
        # The token as it was: a refusal goes on.
        accounts.PrincipalConfirmer(tenant.token, tenant.principal).before_refusal(connection)
        confirmed(connection)  # a write of its request
    accounts.revoke_token(store, tenant.principal.token_id)

    with store.read() as connection:
        with pytest.raises(Rerun):
            pending.before_refusal(connection)
        confirmed.before_refusal(connection)


def test_the_loop_and_threads_drain_one_hot_wallet_to_exactly_zero(store: Database) -> None:
    """Batches of the loop and of threads at once, on one wallet: never overdrawn."""
    tenant = new_tenant(store)
    wallet_uuid = make_contact(store, tenant).wallet_uuid
    fund(store, tenant, wallet_uuid, "3.00")

    def attempts(count: int) -> list[Any]:
        outcomes: list[Any] = []
        for _ in range(count):
            try:
                outcomes.append(spend(store, tenant, wallet_uuid, "0.01"))
            except InsufficientCredit as error:
                outcomes.append(error)
        return outcomes

    async def clients() -> list[Any]:
        rounds = [
            await asyncio.gather(
                *(on_loop.run(spend, store, tenant, wallet_uuid, "0.01") for _ in range(32)),
                return_exceptions=True,
            )
            for _ in range(8)
        ]
        return [outcome for batch in rounds for outcome in batch]

    with ThreadPoolExecutor(8) as pool:
        threaded = [pool.submit(attempts, 20) for _ in range(8)]
        on_the_loop = asyncio.run(clients())
        from_threads = [outcome for future in threaded for outcome in future.result(60)]

    outcomes = on_the_loop + from_threads
    successes = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    problems = [
        outcome
        for outcome in outcomes
        if isinstance(outcome, BaseException) and not isinstance(outcome, InsufficientCredit)
    ]
    assert problems == []
    assert len(successes) == 300
    spends = spend_rows(store, tenant, wallet_uuid)
    assert {row.uuid for row in spends} == {entry.uuid for entry in successes}
    assert min(row.balance_after for row in spends) == 0
    assert verify_ledger(store).ok


# --- served: known mutations on the worker's loop --------------------------------------------

SPEND = (
    "mutation AddCreditEntry($creditEntry: AddCreditEntryInput!) { addCreditEntry("
    "creditEntry: $creditEntry) { success creditEntry { uuid amount } errors "
    "userErrors { code } } }"
)


def _spend_body(wallet_uuid: str) -> dict[str, Any]:
    return {
        "query": SPEND,
        "variables": {
            "creditEntry": {
                "walletUuid": wallet_uuid,
                "action": "SPEND",
                "creditType": "GLOBAL",
                "amount": "0.01",
            }
        },
    }


@pytest.mark.parametrize("on_the_loop", [True, False], ids=["loop", "threads"])
def test_clients_draining_a_wallet_over_http_end_at_exactly_zero(
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path: Path,
    on_the_loop: bool,
    token_reads: list[str],
) -> None:
    """48 clients at once on a served wallet of 2.00: exactly 200 spends succeed, the rest
    are refused, and on PostgreSQL the known mutation's commands were batched on the loop,
    each batch reading their token once."""
    with own_store(request, database_url, tmp_path) as url:
        server = ThreadServer(url, writes_on_event_loop=on_the_loop).start()
        try:
            tenant = new_tenant(server.db)
            wallet_uuid = make_contact(server.db, tenant).wallet_uuid
            fund(server.db, tenant, wallet_uuid, "2.00")
            headers = {"Authorization": f"Bearer {tenant.token}"}
            body = _spend_body(wallet_uuid)

            async def clients() -> list[dict[str, Any]]:
                async with httpx.AsyncClient(
                    base_url=server.base_url, headers=headers, timeout=30
                ) as client:
                    # The first request makes the document known; the rest take its plan.
                    first = (await client.post("/graphql", json=body)).json()

                    async def one() -> list[dict[str, Any]]:
                        answers = []
                        for _ in range(5):
                            answered = await client.post("/graphql", json=body)
                            assert answered.status_code == 200
                            answers.append(answered.json())
                        return answers

                    rest = await asyncio.gather(*(one() for _ in range(48)))
                return [first, *(answer for answers in rest for answer in answers)]

            before = group_stats(server.db)
            batches, on_loop_before = before.batches, before.on_loop
            token_reads.clear()
            answers = asyncio.run(clients())
            stats = group_stats(server.db)
        finally:
            server.stop()
        payloads = [answer["data"]["addCreditEntry"] for answer in answers]
        succeeded = [payload for payload in payloads if payload["success"]]
        refused = [payload for payload in payloads if not payload["success"]]
        assert len(succeeded) == 200
        assert {payload["userErrors"][0]["code"] for payload in refused} == {"INSUFFICIENT_CREDIT"}
        db = Database(url, pool_size=1)
        try:
            spends = spend_rows(db, tenant, wallet_uuid)
            assert {row.uuid for row in spends} == {
                payload["creditEntry"]["uuid"] for payload in succeeded
            }
            assert min(row.balance_after for row in spends) == 0
            assert verify_ledger(db).ok
        finally:
            db.dispose()
        if on_the_loop:
            # Every request's command went through the loop's batches. How many share one
            # depends on how the requests arrive (this test's client shares the server's
            # process and its interpreter lock): the batching itself is shown above, with
            # commands started together.
            assert stats.on_loop - on_loop_before >= len(answers) // 64
            # At most one read of the token a batch (and one a second, to remember it).
            assert len(token_reads) <= stats.on_loop - on_loop_before + 4
        else:
            assert stats.batches > batches
            assert stats.on_loop == on_loop_before


# --- SQLite: the writer's turn, waited for on the loop -----------------------------------------


def test_on_sqlite_the_loop_serves_on_while_another_process_holds_the_turn(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """SQLite writers take turns on a file lock that another process may hold (another
    worker, an import): the loop's batch waits for it without blocking the loop, the
    commands that arrive meanwhile join that batch, and all are written once the turn is
    given back."""
    with grouped_store(request, "sqlite://", tmp_path) as db:
        tenant = new_tenant(db)
        wallet_uuid = make_contact(db, tenant).wallet_uuid
        fund(db, tenant, wallet_uuid, "10.00")
        before = group_stats(db).batches
        # Another process's turn: a lock on its own open file, as another process holds it.
        holder = os.open(f"{make_url(db.url).database}.writer", os.O_RDWR)
        fcntl.flock(holder, fcntl.LOCK_EX)
        served: list[str] = []

        async def main() -> list[Any]:
            first = [
                asyncio.ensure_future(on_loop.run(spend, db, tenant, wallet_uuid, "1.00"))
                for _ in range(3)
            ]
            for turn in range(20):  # the loop keeps turning while the batch waits
                await asyncio.sleep(0.005)
                served.append(f"turn {turn}")
            assert not any(future.done() for future in first)
            later = [
                asyncio.ensure_future(on_loop.run(spend, db, tenant, wallet_uuid, "1.00"))
                for _ in range(2)
            ]
            await asyncio.sleep(0.02)
            assert not any(future.done() for future in first + later)
            fcntl.flock(holder, fcntl.LOCK_UN)
            return list(await asyncio.gather(*first, *later))

        # Should the loop block on the lock, it is released from here after a while (the
        # asserts in ``main`` then fail) rather than never.
        safety = threading.Timer(5, fcntl.flock, (holder, fcntl.LOCK_UN))
        safety.start()
        try:
            entries = asyncio.run(main())
        finally:
            safety.cancel()
            os.close(holder)
        assert len(served) == 20
        # One batch: the three that waited for the turn and the two that came meanwhile.
        assert group_stats(db).batches == before + 1
        assert {row.uuid for row in spend_rows(db, tenant, wallet_uuid)} == {
            entry.uuid for entry in entries
        }
        assert min(row.balance_after for row in spend_rows(db, tenant, wallet_uuid)) == 500
        assert verify_ledger(db).ok


def test_on_sqlite_a_batch_that_finds_the_turn_free_writes_at_once(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with grouped_store(request, "sqlite://", tmp_path) as db:
        tenant = new_tenant(db)
        wallet_uuid = make_contact(db, tenant).wallet_uuid
        fund(db, tenant, wallet_uuid, "3.00")
        queue = db.writer_queue
        assert queue is not None

        results = together([lambda: spend(db, tenant, wallet_uuid, "1.00")] * 4)

        assert sum(1 for result in results if isinstance(result, InsufficientCredit)) == 1
        # The turn was given back: another writer (a thread here) takes it at once.
        assert queue.take_nowait()
        queue.give_back()
        assert verify_ledger(db).ok


def test_a_turn_awaited_and_cancelled_is_given_back_once_granted(tmp_path: Path) -> None:
    queue = WriterQueue(str(tmp_path / "store.db"))
    holder = os.open(tmp_path / "store.db.writer", os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)

    async def main() -> None:
        waiting = asyncio.ensure_future(queue.take())
        await asyncio.sleep(0.02)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        fcntl.flock(holder, fcntl.LOCK_UN)
        # The thread still waiting in the kernel's queue gets the lock and gives it back.
        for _ in range(200):
            await asyncio.sleep(0.005)
            if queue.take_nowait():
                queue.give_back()
                return
        raise AssertionError("the cancelled turn was never given back")

    try:
        asyncio.run(main())
    finally:
        os.close(holder)
