"""What a failover looks like to clients: both multi-host URL forms, and a store that is out of
reach, read-only (a standby before its promotion) or restarting answered 503 with Retry-After
on every surface, never a 500 or a masked error; the pool finds the writable server again."""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from patron.core import migrate
from patron.core.db import Database, StoreUrlError, normalise_url, postgresql_connect_args
from patron.core.settings import SettingsError, load_settings
from tests.support.server import ThreadServer, free_port
from tests.support.tenants import Tenant, make_contact, new_tenant
from tests.test_http_limits import UnreachableStore

# --- the two multi-host forms -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgresql://postgres@h1:5432,h2:5433/patron",
            "postgresql+psycopg://postgres@/patron?host=h1,h2&port=5432,5433",
        ),
        (
            "postgresql://u:p%40ss@h1:5432,h2:5433/patron?target_session_attrs=read-write",
            "postgresql+psycopg://u:p%40ss@/patron?target_session_attrs=read-write"
            "&host=h1,h2&port=5432,5433",
        ),
        ("postgresql://h1,h2/patron", "postgresql+psycopg:///patron?host=h1,h2"),
        (
            "postgresql://[::1]:5432,[::1]:5433/patron",
            "postgresql+psycopg:///patron?host=::1,::1&port=5432,5433",
        ),
        (
            "postgresql://postgres@/patron?host=h1:5432&host=h2:5433",
            "postgresql+psycopg://postgres@/patron?host=h1:5432&host=h2:5433",
        ),
        ("postgresql://postgres@h:5432/patron", "postgresql+psycopg://postgres@h:5432/patron"),
    ],
)
def test_both_multi_host_forms_are_read(given: str, expected: str) -> None:
    assert normalise_url(given) == expected
    make_url(normalise_url(given))  # SQLAlchemy reads it
    assert load_settings(database_url=given).database_url == given


def test_a_multi_host_url_is_shown_without_its_password() -> None:
    shown = migrate.shown("postgresql://patron:s3cret@h1:5432,h2:5433/patron")
    assert "s3cret" not in shown
    assert shown == "postgresql://patron:***@h1:5432,h2:5433/patron"


def test_several_hosts_write_to_the_one_that_writes_unless_the_url_says() -> None:
    assert postgresql_connect_args("postgresql://h1,h2/p") == {
        "connect_timeout": 5,
        "target_session_attrs": "read-write",
    }
    assert postgresql_connect_args("postgresql://h1,h2/p?target_session_attrs=any") == {
        "connect_timeout": 5
    }
    assert postgresql_connect_args("postgresql://h/p?connect_timeout=2") == {}
    assert postgresql_connect_args("postgresql://h/p", prepared_statements=False) == {
        "connect_timeout": 5,
        "prepare_threshold": None,
    }


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("postgresql://h1:x,h2/p", "the port of h1 must be a number from 1 to 65535"),
        ("postgresql://h1,,h2/p", "a host in the URL's list of servers is empty"),
        ("postgresql://h1,h2/p?host=h3", "not both"),
    ],
)
def test_a_malformed_host_list_is_one_clear_line(given: str, problem: str) -> None:
    with pytest.raises(StoreUrlError, match=problem):
        normalise_url(given)
    with pytest.raises(SettingsError) as refused:
        load_settings(database_url=given)
    [line] = refused.value.problems
    assert line.startswith("PATRON_DATABASE_URL: is not a URL a store can be opened with")
    assert problem in line


def _dead_port() -> int:
    return free_port()  # nothing listens there once the probe socket is closed


def _multi_host_urls(url: str) -> list[str]:
    """The suite's server behind a port where nothing listens, in both forms."""
    parsed = make_url(url)
    host, port, database = parsed.host, parsed.port or 5432, parsed.database
    dead = _dead_port()
    return [
        f"postgresql://postgres@{host}:{dead},{host}:{port}/{database}",
        f"postgresql://postgres@/{database}?host={host}:{dead}&host={host}:{port}"
        "&target_session_attrs=read-write",
    ]


def test_patron_starts_and_serves_on_either_multi_host_form(postgres_database: str) -> None:
    for url in _multi_host_urls(postgres_database):
        migrated = subprocess.run(
            [sys.executable, "-m", "patron", "migrate", "--database", url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert migrated.returncode == 0, migrated.stderr
        assert json.loads(migrated.stdout)["migrated"] is False
        listed = subprocess.run(
            [sys.executable, "-m", "patron", "account", "list", "--database", url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert listed.returncode == 0, listed.stderr
        db = Database(url, pool_size=2)
        try:
            tenant = new_tenant(db)
            server = ThreadServer(url).start()
            try:
                answer = httpx.post(
                    f"{server.base_url}/graphql",
                    json={"query": "{ account { contactsCount } }"},
                    headers={"Authorization": f"Bearer {tenant.token}"},
                    timeout=30,
                )
            finally:
                server.stop()
        finally:
            db.dispose()
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"data": {"account": {"contactsCount": 0}}}


# --- a read-only or restarting store, on every surface ----------------------------------------

CREATE_CONTACT = (
    "mutation ($contact: ContactInput!) { createContact(contact: $contact) "
    "{ success contact { uuid } errors } }"
)
LIGHTFUNNELS_CREATE = (
    "mutation ($node: InputCustomer!) { createCustomer(node: $node) { id email } }"
)
LOYALTYDISH_REGISTER = (
    'mutation ($email: String!) { register(email: $email password1: "Correct-Horse-9x" '
    'password2: "Correct-Horse-9x" firstname: "A" lastname: "B" userType: "CONSUMER") '
    "{ success errors } }"
)


def _writes(tenant: Tenant, customer_number: int) -> list[tuple[str, dict[str, Any], bool]]:
    """One write per surface: (path, JSON body, whether it carries the merchant token)."""
    email = f"ro-{secrets.token_hex(5)}@example.com"
    return [
        (
            "/graphql",
            {
                "query": CREATE_CONTACT,
                "variables": {"contact": {"email": email, "idempotencyKey": email}},
            },
            True,
        ),
        (
            "/compat/lightfunnels/api/v2",
            {
                "query": LIGHTFUNNELS_CREATE,
                "variables": {"node": {"email": "lf-" + email, "first_name": "A"}},
            },
            True,
        ),
        (
            f"/compat/loyaltydish/{tenant.uuid}/graphql",
            {"query": LOYALTYDISH_REGISTER, "variables": {"email": "ld-" + email}},
            False,
        ),
        (
            "/compat/commerce/api/v6/commerce.contacts.create",
            {"contact": {"customer": customer_number, "name": "Read Only"}},
            True,
        ),
    ]


def _post(server: ThreadServer | str, path: str, body: dict[str, Any], token: str | None) -> Any:
    base = server if isinstance(server, str) else server.base_url
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{base}{path}", json=body, headers=headers, timeout=30)


def _set_read_only(url: str, on: bool, *, disconnect: bool) -> None:
    database = make_url(url).database
    admin = url.rpartition("/")[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        setting = "SET default_transaction_read_only = on" if on else "RESET ALL"
        connection.execute(f'ALTER DATABASE "{database}" {setting}')
        if disconnect:  # 57P01 on every pooled connection's next statement
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )


def _counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM contact_persons)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@pytest.fixture
def served(postgres_database: str) -> Iterator[tuple[ThreadServer, Tenant, int]]:
    db = Database(postgres_database, pool_size=2)
    tenant = new_tenant(db)
    number = make_contact(db, tenant).customer.number
    db.dispose()
    server = ThreadServer(postgres_database).start()
    yield server, tenant, number
    server.stop()
    _set_read_only(postgres_database, False, disconnect=False)


def _is_unavailable(response: httpx.Response) -> bool:
    if response.status_code != 503:
        return False
    assert response.headers["retry-after"] == "1"
    assert response.headers["x-request-id"]
    body = response.json()
    if "status" in body:  # the commerce dialect's own error shape
        assert body["error"]["type"] == "Unavailable"
    else:
        [error] = body["errors"]
        assert error["extensions"]["code"] == "UNAVAILABLE"
        assert error["message"] == "the store is unavailable; retry the request"
    return True


def test_a_read_only_or_restarting_store_is_a_503_on_every_surface_then_writes_resume(
    postgres_database: str,
    served: tuple[ThreadServer, Tenant, int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, tenant, number = served
    before = _counts(postgres_database)
    # Warm the pool, then the server behind it turns read-only and drops every connection
    # (as a primary demoted to standby does): first 57P01, then 25006 on each write.
    for path, body, with_token in _writes(tenant, number):
        _post(server, "/graphql", {"query": "{ account { name } }"}, tenant.token)
        assert _post(server, path, body, tenant.token if with_token else None).status_code == 200
    written = _counts(postgres_database)
    _set_read_only(postgres_database, True, disconnect=True)

    caplog.set_level(logging.WARNING, logger="patron.api")
    for path, body, with_token in _writes(tenant, number):
        for _ in range(3):
            response = _post(server, path, body, tenant.token if with_token else None)
            assert _is_unavailable(response), (path, response.status_code, response.text)
    assert _counts(postgres_database) == written
    assert "unexpected error" not in caplog.text
    assert "ReadOnlySqlTransaction" in caplog.text

    # The server writes again (a promotion): pooled read-only connections are dropped at the
    # first refusal, so at most one request per surface meets one, and no restart is needed.
    _set_read_only(postgres_database, False, disconnect=False)
    for path, body, with_token in _writes(tenant, number):
        answers = []
        for _ in range(3):
            response = _post(server, path, body, tenant.token if with_token else None)
            answers.append(response.status_code)
            if response.status_code == 200:
                break
            assert _is_unavailable(response), (path, response.status_code, response.text)
        assert answers[-1] == 200, (path, answers)
        assert answers.count(503) <= 1, (path, answers)
    # createContact, createCustomer and register each made a customer; create a person.
    assert _counts(postgres_database) == (written[0] + 3, written[1] + 1)
    assert before[0] < written[0]


def test_a_store_out_of_reach_is_a_503_on_every_surface(
    served: tuple[ThreadServer, Tenant, int],
) -> None:
    _, tenant, number = served
    dead = f"postgresql://postgres@127.0.0.1:{_dead_port()}/patron"
    with UnreachableStore(dead) as running:
        for path, body, with_token in _writes(tenant, number):
            response = _post(running.base_url, path, body, tenant.token if with_token else None)
            assert _is_unavailable(response), (path, response.status_code, response.text)
