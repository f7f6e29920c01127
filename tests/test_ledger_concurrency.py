"""Many clients at once over real HTTP against ``patron serve`` with two worker processes.

No overdraw on a hot wallet, exact books on random wallets, duplicate idempotency keys
applied once; never an HTTP 500, never a "database is locked" in an answer.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from patron.core.db import Database
from patron.wallets.tables import wallets
from patron.wallets.verify import verify_ledger
from tests.support.databases import own_store
from tests.support.ledger import entry_rows
from tests.support.server import ProcessServer
from tests.support.tenants import Tenant, fund, make_contact, new_tenant

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("heavy")]

CLIENTS = 64

ADD_CREDIT_ENTRY = """
mutation AddCreditEntry($creditEntry: AddCreditEntryInput!) {
  addCreditEntry(creditEntry: $creditEntry) {
    success creditEntry { uuid amountMinor } userErrors { code message }
  }
}
"""

CONVERT_CREDIT = """
mutation ConvertCredit($credit: ConvertCreditInput!) {
  convertCredit(credit: $credit) {
    success creditEntry { uuid amountMinor } removedEntry { uuid amountMinor }
    userErrors { code message }
  }
}
"""


@dataclass(frozen=True)
class Served:
    url: str
    db: Database
    server: ProcessServer


@pytest.fixture(scope="module")
def served(
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    """``patron serve --workers 2`` on a store of its own, for this module's tests in a row.

    When other tests run in between on the same worker, it is stopped and started again:
    a server left running would hold PostgreSQL connections the rest of the suite needs.
    """
    tmp_path = tmp_path_factory.mktemp("concurrency")
    with own_store(request, database_url, tmp_path) as url:
        # 64 clients queue well on the test servers' 5 + 5 connections per worker.
        server = ProcessServer(url, workers=2, log=tmp_path / "server.log").start()
        db = Database(url, pool_size=2)
        try:
            yield Served(url, db, server)
        finally:
            server.kill()
            db.dispose()
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log, log[-4000:]
    assert "database is locked" not in log


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    payload: dict[str, Any] | None

    @property
    def succeeded(self) -> bool:
        return self.payload is not None and self.payload["success"] is True

    @property
    def code(self) -> str | None:
        if self.payload is None or self.payload["success"]:
            return None
        code: str = self.payload["userErrors"][0]["code"]
        return code


def _ask(client: httpx.Client, token: str, query: str, variables: dict[str, Any]) -> Answer:
    response = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    payload = None
    if response.status_code == 200:
        body = json.loads(response.text, parse_float=Decimal)
        if "errors" not in body:
            payload = next(iter(body["data"].values()))
    return Answer(response.status_code, response.text, payload)


def spend(wallet_uuid: str, amount: Any, key: str | None = None) -> dict[str, Any]:
    entry = {"walletUuid": wallet_uuid, "action": "SPEND", "creditType": "GLOBAL", "amount": amount}
    if key is not None:
        entry["idempotencyKey"] = key
    return {"creditEntry": entry}


Job = tuple[str, dict[str, Any]]


def run_clients(served: Served, token: str, jobs_per_client: list[list[Job]]) -> list[list[Answer]]:
    """Each client on its own thread and connection; all start together, answers in order."""
    answers: list[list[Answer]] = [[] for _ in jobs_per_client]
    failures: list[BaseException] = []
    start = threading.Barrier(len(jobs_per_client))

    def client(index: int) -> None:
        try:
            with httpx.Client(base_url=served.server.base_url, timeout=120) as http:
                start.wait()
                for query, variables in jobs_per_client[index]:
                    answers[index].append(_ask(http, token, query, variables))
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(jobs_per_client))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not failures, failures
    return answers


def assert_all_answered_cleanly(answers: list[Answer], allowed: set[str | None]) -> None:
    statuses = Counter(answer.status for answer in answers)
    assert statuses == {200: len(answers)}, statuses
    leaked = [a.text for a in answers if "locked" in a.text.lower() or "internal" in a.text.lower()]
    assert leaked == []
    assert all(answer.payload is not None for answer in answers)
    assert {answer.code for answer in answers} <= allowed


def wallet_row(db: Database, tenant: Tenant, wallet_uuid: str) -> Any:
    with db.read() as connection:
        return connection.execute(
            select(wallets).where(
                wallets.c.account_id == tenant.principal.account_id, wallets.c.uuid == wallet_uuid
            )
        ).one()


def test_64_clients_spending_from_one_hot_wallet_never_overdraw(served: Served) -> None:
    tenant = new_tenant(served.db)
    wallet_uuid = make_contact(served.db, tenant).wallet_uuid
    fund(served.db, tenant, wallet_uuid, "40.00")
    # 128 spends of 0.50 against 40.00: exactly 80 can succeed.
    jobs = [[(ADD_CREDIT_ENTRY, spend(wallet_uuid, 0.5))] * 2 for _ in range(CLIENTS)]

    answers = [answer for client in run_clients(served, tenant.token, jobs) for answer in client]

    assert_all_answered_cleanly(answers, {None, "INSUFFICIENT_CREDIT"})
    successes = [a for a in answers if a.succeeded]
    assert len(successes) == 80
    spends = [
        row
        for row in entry_rows(served.db, tenant.principal.account_id, wallet_uuid)
        if row.action == "SPEND"
    ]
    assert len(spends) == 80
    assert {row.uuid for row in spends} == {
        a.payload["creditEntry"]["uuid"] for a in successes if a.payload is not None
    }
    assert [row.balance_after for row in spends] == list(range(3950, -1, -50))
    assert wallet_row(served.db, tenant, wallet_uuid).global_balance == 0
    report = verify_ledger(served.db)
    assert report.ok, report.problems


def test_64_clients_on_random_wallets_keep_exact_books(served: Served) -> None:
    tenant = new_tenant(served.db)
    wallet_uuids = [make_contact(served.db, tenant).wallet_uuid for _ in range(16)]
    for wallet_uuid in wallet_uuids:
        fund(served.db, tenant, wallet_uuid, "20.00")
        fund(served.db, tenant, wallet_uuid, 500, "LOCAL")
    chooser = random.Random(secrets.randbits(32))
    # (wallet, GLOBAL change, LOCAL change, entries) of every job, should it succeed.
    effects: dict[int, tuple[str, int, int, int]] = {}
    jobs: list[list[Job]] = []
    for client in range(CLIENTS):
        mine: list[Job] = []
        for step in range(5):
            wallet_uuid = chooser.choice(wallet_uuids)
            effects[client * 100 + step], job = _random_job(chooser, wallet_uuid)
            mine.append(job)
        jobs.append(mine)

    answered = run_clients(served, tenant.token, jobs)

    flat = [answer for client in answered for answer in client]
    assert_all_answered_cleanly(flat, {None, "INSUFFICIENT_CREDIT"})
    expected: dict[str, list[int]] = defaultdict(lambda: [2000, 500, 2])
    for client, answers in enumerate(answered):
        for step, answer in enumerate(answers):
            if answer.succeeded:
                wallet_uuid, money, points, entries = effects[client * 100 + step]
                totals = expected[wallet_uuid]
                totals[0] += money
                totals[1] += points
                totals[2] += entries
    assert sum(answer.succeeded for answer in flat) > CLIENTS
    for wallet_uuid in wallet_uuids:
        row = wallet_row(served.db, tenant, wallet_uuid)
        money, points, entries = expected[wallet_uuid]
        assert (row.global_balance, row.local_balance, row.entry_count) == (money, points, entries)
        assert len(entry_rows(served.db, tenant.principal.account_id, wallet_uuid)) == entries
    report = verify_ledger(served.db)
    assert report.ok, report.problems


def _random_job(chooser: random.Random, wallet_uuid: str) -> tuple[tuple[str, int, int, int], Job]:
    kind = chooser.choice(["ADD", "SPEND", "REMOVE", "SPEND", "CONVERT"])
    if kind == "CONVERT":
        points = chooser.randint(1, 150)
        credit = {
            "walletUuid": wallet_uuid,
            "amount": points,
            "conversionRate": "0.05",
            "from": "LOCAL",
            "to": "GLOBAL",
        }
        # points × 0.05 in cents: exact, as 0.05 has two places.
        return (wallet_uuid, points * 5, -points, 2), (CONVERT_CREDIT, {"credit": credit})
    credit_type = chooser.choice(["GLOBAL", "LOCAL"])
    minor = chooser.randint(1, 700) if credit_type == "GLOBAL" else chooser.randint(1, 120)
    amount: Any = str(Decimal(minor).scaleb(-2)) if credit_type == "GLOBAL" else minor
    signed = minor if kind == "ADD" else -minor
    entry = {"walletUuid": wallet_uuid, "action": kind, "creditType": credit_type, "amount": amount}
    change = (signed, 0) if credit_type == "GLOBAL" else (0, signed)
    return (wallet_uuid, *change, 1), (ADD_CREDIT_ENTRY, {"creditEntry": entry})


def test_simultaneous_duplicates_of_one_idempotency_key_apply_once(served: Served) -> None:
    tenant = new_tenant(served.db)
    wallet_uuid = make_contact(served.db, tenant).wallet_uuid
    fund(served.db, tenant, wallet_uuid, "100.00")
    fund(served.db, tenant, wallet_uuid, 1000, "LOCAL")
    run = secrets.token_hex(4)
    spend_keys = [f"spend-{run}-{n}" for n in range(12)]
    convert_keys = [f"convert-{run}-{n}" for n in range(4)]
    copies = CLIENTS // (len(spend_keys) + len(convert_keys))

    def convert(key: str) -> dict[str, Any]:
        credit = {
            "walletUuid": wallet_uuid,
            "amount": 100,
            "conversionRate": 0.01,
            "from": "LOCAL",
            "to": "GLOBAL",
            "idempotencyKey": key,
        }
        return {"credit": credit}

    jobs: list[list[Job]] = [
        [(ADD_CREDIT_ENTRY, spend(wallet_uuid, "1.25", key))] for key in spend_keys * copies
    ] + [[(CONVERT_CREDIT, convert(key))] for key in convert_keys * copies]
    keys = spend_keys * copies + convert_keys * copies

    answers = [client[0] for client in run_clients(served, tenant.token, jobs)]

    assert_all_answered_cleanly(answers, {None})
    written_by_key: dict[str, set[str]] = defaultdict(set)
    for key, answer in zip(keys, answers, strict=True):
        assert answer.payload is not None
        written_by_key[key].add(answer.payload["creditEntry"]["uuid"])
    assert all(len(uuids) == 1 for uuids in written_by_key.values()), written_by_key
    rows = entry_rows(served.db, tenant.principal.account_id, wallet_uuid)
    assert Counter(row.idempotency_key for row in rows if row.idempotency_key) == {
        **dict.fromkeys(spend_keys, 1),
        **dict.fromkeys(convert_keys, 2),
    }
    row = wallet_row(served.db, tenant, wallet_uuid)
    # 100.00 - 12 × 1.25 + 4 × 1.00, and 1000 - 4 × 100 points.
    assert (row.global_balance, row.local_balance) == (8900, 600)
    report = verify_ledger(served.db)
    assert report.ok, report.problems
