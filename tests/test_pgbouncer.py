"""Patron through PgBouncer in transaction-pooling mode: with
``PATRON_DATABASE_PREPARED_STATEMENTS=false`` the API's core flows run on every surface, from
many client connections sharing a few server connections."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from patron.core.db import Database
from tests.conftest import IN_CI
from tests.support.client import Api
from tests.support.pgbouncer import PgBouncer, pgbouncer_binary
from tests.support.postgres import PostgresServer
from tests.support.server import ThreadServer
from tests.support.tenants import Tenant, new_tenant

THREADS = 4
# A request may hold a read and a write connection at once, and a create may reserve numbers
# on a third for a moment: the pooler needs 2 x PATRON_THREADS + 1 server connections for
# one Patron process (see the README), far fewer than the clients' connections.
PATRON_THREADS = 2
SERVER_CONNECTIONS = 2 * PATRON_THREADS + 1
ROUNDS = 8  # more than psycopg's prepare threshold (5): statements would be prepared

CREATE_CONTACT = (
    "mutation ($contact: ContactInput!) { createContact(contact: $contact) "
    "{ success contact { uuid wallet { uuid } } errors } }"
)
ADD_ENTRY = (
    "mutation ($entry: AddCreditEntryInput!) { addCreditEntry(creditEntry: $entry) "
    "{ success creditEntry { uuid balanceAfter } errors } }"
)
CONTACT = (
    "query ($uuid: String) { account { contacts(uuid: $uuid) { uuid email wallet "
    "{ globalCreditBalance creditEntries(limit: 5) { action amount } } } } }"
)
LIST = "{ account { contactsCount contacts(limit: 20) { uuid wallet { globalCreditBalance } } } }"
LIGHTFUNNELS_PAGE = (
    "query ($query: String!) { customers(query: $query, first: 10) "
    "{ edges { node { _id email } } pageInfo { hasNextPage } } }"
)
LOYALTYDISH_PAGE = (
    'query { consumers(loyaltyId: "", phoneNumber_Icontains: "", email_Icontains: "") '
    "{ edges { node { pk email } } } }"
)


def _bouncer_or_fail() -> None:
    if pgbouncer_binary() is None:
        message = "pgbouncer is not installed (apt-get install pgbouncer)"
        if IN_CI:
            pytest.fail(message + " (CI=true: the pooler test is required)")
        pytest.skip("!!! " + message + " !!!")


@pytest.fixture
def bouncer(postgres_server: PostgresServer, postgres_database: str) -> Iterator[PgBouncer]:
    _bouncer_or_fail()
    assert postgres_server.url is not None
    running = PgBouncer(postgres_server.url, pool_size=SERVER_CONNECTIONS).start()
    yield running
    running.stop()


def _through(bouncer: PgBouncer, url: str) -> str:
    return bouncer.url(str(make_url(url).database))


def test_psycopg_prepared_statements_break_behind_a_transaction_pooler(
    postgres_server: PostgresServer, postgres_database: str
) -> None:
    """Why the setting exists: two clients sharing one server connection prepare the same
    statement name, which the server already holds for the other."""
    _bouncer_or_fail()
    assert postgres_server.url is not None
    single = PgBouncer(postgres_server.url, pool_size=1).start()
    try:
        url = _through(single, postgres_database)
        with (
            psycopg.connect(url, prepare_threshold=0, autocommit=True) as first,
            psycopg.connect(url, prepare_threshold=0, autocommit=True) as second,
        ):
            first.execute("SELECT count(*) FROM accounts")
            with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
                second.execute("SELECT count(*) FROM customers")
        with (
            psycopg.connect(url, prepare_threshold=None, autocommit=True) as first,
            psycopg.connect(url, prepare_threshold=None, autocommit=True) as second,
        ):
            for _ in range(10):
                first.execute("SELECT count(*) FROM accounts")
                second.execute("SELECT count(*) FROM customers")
    finally:
        single.stop()


def _flow(api: Api, tenant: Tenant, failures: list[str]) -> None:
    """Create a contact, credit and spend on it, read it back and list, on every surface."""
    try:
        for _ in range(ROUNDS):
            email = f"pool-{secrets.token_hex(5)}@example.com"
            created = api.data(CREATE_CONTACT, {"contact": {"email": email}}, token=tenant.token)
            contact = created["createContact"]["contact"]
            wallet = contact["wallet"]["uuid"]
            for action, amount in (("ADD", "10.00"), ("SPEND", "2.50"), ("SPEND", "0.50")):
                entry = {
                    "walletUuid": wallet,
                    "action": action,
                    "creditType": "GLOBAL",
                    "amount": amount,
                    "idempotencyKey": f"{wallet}-{action}-{amount}",
                }
                posted = api.data(ADD_ENTRY, {"entry": entry}, token=tenant.token)
                assert posted["addCreditEntry"]["success"], posted
            read = api.data(CONTACT, {"uuid": contact["uuid"]}, token=tenant.token)
            [shown] = read["account"]["contacts"]
            assert shown["wallet"]["globalCreditBalance"] == Decimal("7.00")
            assert len(shown["wallet"]["creditEntries"]) == 3
            assert api.data(LIST, token=tenant.token)["account"]["contactsCount"] >= 1
            page = api.data(
                LIGHTFUNNELS_PAGE,
                {"query": f"email:{email}"},
                token=tenant.token,
                path="/compat/lightfunnels/api/v2",
            )
            assert [edge["node"]["email"] for edge in page["customers"]["edges"]] == [email]
            consumers = api.data(
                LOYALTYDISH_PAGE, token=tenant.token, path="/compat/loyaltydish/graphql"
            )
            assert consumers["consumers"]["edges"]
            found = api.post(
                "/compat/commerce/api/v6/commerce.contacts.find", {}, token=tenant.token
            )
            assert found.status_code == 200, found.text
            assert found.json()["status"] == "ok"
    except Exception as error:  # reported by the test's thread
        failures.append(repr(error)[:500])


def test_the_api_runs_through_pgbouncer_in_transaction_mode(
    bouncer: PgBouncer, postgres_database: str
) -> None:
    url = _through(bouncer, postgres_database)
    db = Database(url, pool_size=2, prepared_statements=False)
    try:
        tenant = new_tenant(db)
    finally:
        db.dispose()
    server = ThreadServer(url, database_prepared_statements=False, threads=PATRON_THREADS).start()
    failures: list[str] = []
    clients = [Api(server.base_url) for _ in range(THREADS)]
    try:
        threads = [
            threading.Thread(target=_flow, args=(client, tenant, failures)) for client in clients
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    finally:
        for client in clients:
            client.close()
        server.stop()
    assert failures == []
    assert "prepared statement" not in bouncer.log()

    env = {**os.environ, "PATRON_DATABASE_PREPARED_STATEMENTS": "false"}
    verified = subprocess.run(
        [sys.executable, "-m", "patron", "ledger", "verify", "--database", url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report: dict[str, Any] = json.loads(verified.stdout)
    assert report["ok"] is True
    assert report["entries"] >= THREADS * ROUNDS * 3
