"""Two ``patron serve`` nodes on one PostgreSQL behind HAProxy: a retried write that lands on the
other node returns the first result, two ``patron worker`` processes deliver each outbox event
once, and the rate limit is one budget across both nodes."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from patron.core import migrate
from patron.core.db import Database
from patron.integrations.outbox import store
from tests.conftest import IN_CI
from tests.support.haproxy import HaProxy, haproxy_binary
from tests.support.postgres import PostgresServer
from tests.support.receiver import running_receiver
from tests.support.server import ProcessServer
from tests.support.tenants import Tenant, new_tenant
from tests.support.webhooks import make_webhook

pytestmark = pytest.mark.slow

RATE_LIMIT = 100
CONTACTS = 30

CREATE_CONTACT = (
    "mutation ($contact: ContactInput!) { createContact(contact: $contact) "
    "{ success contact { uuid wallet { uuid } } errors } }"
)
ADD_ENTRY = (
    "mutation ($entry: AddCreditEntryInput!) { addCreditEntry(creditEntry: $entry) "
    "{ success creditEntry { uuid balanceAfter } errors } }"
)
BALANCE = (
    "query ($uuid: String) { account { contacts(uuid: $uuid) { wallet { globalCreditBalance } } } }"
)


@pytest.fixture(scope="module")
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """One database for the module's nodes (started once: each start costs seconds)."""
    if postgres_server.url is None:
        message = f"PostgreSQL tests cannot run: {postgres_server.problem}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL is required)")
        pytest.skip("!!! " + message + " !!!")
    name = f"patron_test_lb_{secrets.token_hex(4)}"
    url = postgres_server.create_database(name)
    migrate.upgrade(url)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture(scope="module")
def cluster(
    postgres_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[list[ProcessServer], HaProxy]]:
    tmp_path = tmp_path_factory.mktemp("nodes")
    if haproxy_binary() is None:
        message = "haproxy is not installed (apt-get install haproxy)"
        if IN_CI:
            pytest.fail(message + " (CI=true: the load-balancer test is required)")
        pytest.skip("!!! " + message + " !!!")
    env = {"PATRON_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT), "PATRON_THREADS": "4"}
    nodes: list[ProcessServer] = []
    balancer: HaProxy | None = None
    try:
        for n in range(2):
            log = tmp_path / f"node{n}.log"
            nodes.append(ProcessServer(postgres_database, workers=1, log=log, env=env).start())
        balancer = HaProxy([f"127.0.0.1:{node.port}" for node in nodes]).start()
        yield nodes, balancer
    finally:
        if balancer is not None:
            balancer.stop()
        for node in nodes:
            node.stop()


def _post(base_url: str, token: str, query: str, variables: dict[str, Any]) -> httpx.Response:
    # A new connection each time, so that the balancer's round robin moves between nodes.
    return httpx.post(
        f"{base_url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}", "Connection": "close"},
        timeout=30,
    )


def _post_as_a_client(
    base_url: str, token: str, query: str, variables: dict[str, Any]
) -> httpx.Response:
    """``_post``, sent again after a 503 (UNAVAILABLE: "retry the request") as the README tells
    a client to: the suite's other servers share this PostgreSQL's 100 connections, and a node
    that could not get one for a moment answers so. Nothing was written then (the create
    below would answer EMAIL_TAKEN on its second try if it had been, and fail the test)."""
    for attempt in range(1, 6):
        response = _post(base_url, token, query, variables)
        if response.status_code != 503:
            return response
        time.sleep(0.5 * attempt)
    return response


def _data(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = json.loads(response.text, parse_float=Decimal)
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def _tenant(url: str) -> Tenant:
    db = Database(url, pool_size=2)
    try:
        return new_tenant(db)
    finally:
        db.dispose()


def test_a_retry_on_the_other_node_returns_the_first_result(
    postgres_database: str, cluster: tuple[list[ProcessServer], HaProxy]
) -> None:
    (first, second), balancer = cluster
    tenant = _tenant(postgres_database)
    key = f"contact-{secrets.token_hex(6)}"
    contact = {"email": f"{key}@example.com", "idempotencyKey": key}
    made = [_data(_post(node.base_url, tenant.token, CREATE_CONTACT, {"contact": contact}))
            for node in (first, second)]  # fmt: skip
    assert made[0] == made[1]
    wallet = made[0]["createContact"]["contact"]["wallet"]["uuid"]
    uuid = made[0]["createContact"]["contact"]["uuid"]

    entry = {
        "walletUuid": wallet,
        "action": "ADD",
        "creditType": "GLOBAL",
        "amount": "25.00",
        "idempotencyKey": f"add-{key}",
    }
    added = [_data(_post(node.base_url, tenant.token, ADD_ENTRY, {"entry": entry}))
             for node in (first, second, first)]  # fmt: skip
    assert added[0] == added[1] == added[2]

    # The same spend sent to both nodes at once, then retried through the balancer.
    spend = {**entry, "action": "SPEND", "amount": "10.00", "idempotencyKey": f"spend-{key}"}
    answers: list[dict[str, Any]] = []

    def send(base_url: str) -> None:
        answers.append(_data(_post(base_url, tenant.token, ADD_ENTRY, {"entry": spend})))

    threads = [threading.Thread(target=send, args=(node.base_url,)) for node in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    answers += [
        _data(_post(balancer.base_url, tenant.token, ADD_ENTRY, {"entry": spend})) for _ in "ab"
    ]
    assert len(answers) == 4
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["addCreditEntry"]["creditEntry"]["balanceAfter"] == Decimal("15.00")
    shown = _data(_post(balancer.base_url, tenant.token, BALANCE, {"uuid": uuid}))
    assert shown["account"]["contacts"][0]["wallet"]["globalCreditBalance"] == Decimal("15.00")


def test_the_rate_limit_is_one_budget_across_nodes(
    postgres_database: str, cluster: tuple[list[ProcessServer], HaProxy]
) -> None:
    (first, second), balancer = cluster
    tenant = _tenant(postgres_database)
    statuses: Counter[int] = Counter()
    query = "{ account { contactsCount } }"
    if time.time() % 60 > 35:  # the budget is per wall-clock minute: all in one minute
        time.sleep(60.5 - time.time() % 60)
    minute = int(time.time() // 60)
    for _ in range(70):  # 140 requests, half to each node: each alone would admit 100
        for node in (first, second):
            statuses[_post(node.base_url, tenant.token, query, {}).status_code] += 1
    # Blocks of 2 (a fiftieth of the limit): each process may leave one request unused.
    assert int(time.time() // 60) == minute, "the requests took too long"
    assert RATE_LIMIT - 2 <= statuses[200] <= RATE_LIMIT
    assert statuses[429] == 140 - statuses[200]
    refused = _post(balancer.base_url, tenant.token, query, {})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60


def _worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PATRON_DATABASE_URL": url,
        "PATRON_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
        "PATRON_OUTBOX_BATCH_SIZE": "3",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "patron", "worker", "--poll", "0.05", "--interval", "600"],
        env=env,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _running_workers(url: str, logs: Path, count: int = 2) -> list[subprocess.Popen[bytes]]:
    """``count`` workers, each seen running for a moment. A worker that cannot reach the store
    at start says so and exits 1 (STORE_UNREACHABLE, as every command does); while the suite
    runs, the other tests' servers may hold every connection PostgreSQL allows for a moment,
    so one that exited is started again, as a process supervisor would."""
    workers = [_worker(url, logs / f"worker{n}.log") for n in range(count)]
    deadline = time.monotonic() + 60
    settled_at = time.monotonic() + 2
    while time.monotonic() < settled_at:
        for n, worker in enumerate(workers):
            if worker.poll() is not None and time.monotonic() < deadline:
                time.sleep(0.5)
                workers[n] = _worker(url, logs / f"worker{n}.log")
                settled_at = time.monotonic() + 2
        time.sleep(0.1)
    return workers


def _why_undelivered(url: str, tenant: Tenant, logs: Path) -> str:
    """What a failure shows: the account's outbox rows not delivered and the workers' logs."""
    db = Database(url, pool_size=1)
    try:
        rows = [
            (row.status, row.attempts, row.next_attempt_at, row.last_error)
            for row in store.list_events(db, account_id=tenant.uuid, limit=100)
            if row.status != store.DELIVERED
        ]
    finally:
        db.dispose()
    told = [f"{path.name}:\n{path.read_text()[-4000:]}" for path in sorted(logs.glob("worker*"))]
    return f"not delivered: {rows}\n" + "\n".join(told)


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def test_two_workers_deliver_each_event_once(
    postgres_database: str, cluster: tuple[list[ProcessServer], HaProxy], tmp_path: Path
) -> None:
    _, balancer = cluster
    tenant = _tenant(postgres_database)
    with running_receiver() as receiver:
        db = Database(postgres_database, pool_size=2)
        try:
            make_webhook(db, tenant, receiver.url, ["CONTACT_CREATED"])
        finally:
            db.dispose()
        workers = _running_workers(postgres_database, tmp_path)
        try:
            for n in range(CONTACTS):
                contact = {"email": f"lb-{n}-{secrets.token_hex(4)}@example.com"}
                made = _data(_post_as_a_client(balancer.base_url, tenant.token,
                                               CREATE_CONTACT, {"contact": contact}))  # fmt: skip
                assert made["createContact"]["success"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(set(receiver.event_ids())) < CONTACTS:
                time.sleep(0.1)
            time.sleep(1.0)  # time enough for a second delivery to show
        finally:
            for worker in workers:
                _stop(worker)
        delivered = Counter(receiver.event_ids())
    assert len(delivered) == CONTACTS, _why_undelivered(postgres_database, tenant, tmp_path)
    assert set(delivered.values()) == {1}
    for n in range(2):
        assert "Traceback" not in (tmp_path / f"worker{n}.log").read_text()
