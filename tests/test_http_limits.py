"""Transport limits and failures: body size, malformed bodies, query depth and size, rate
limits, health, an unreachable store and unexpected exceptions. Never a 500 for client input."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn

from patron.api import ratelimit
from patron.api.app import create_app
from patron.core.db import Database
from patron.core.settings import Settings
from patron.customers import service as customers
from tests.support.client import Api
from tests.support.server import ThreadServer, free_port
from tests.support.store import account_rows
from tests.support.tenants import Tenant, make_contact

ACCOUNT = "{ account { uuid } }"


@pytest.fixture(scope="module")
def tight_server(database_url: str) -> Iterator[ThreadServer]:
    running = ThreadServer(
        database_url,
        max_body_bytes=2048,
        max_query_depth=3,
        max_query_tokens=100,
        max_aliases=3,
    ).start()
    yield running
    running.stop()


@pytest.fixture
def tight(tight_server: ThreadServer) -> Iterator[Api]:
    client = Api(tight_server.base_url)
    yield client
    client.close()


class UnreachableStore:
    """The real app in front of a store that does not answer; up without waiting for health."""

    def __init__(self, url: str) -> None:
        port = free_port()
        app = create_app(Settings(database_url=url, port=port), Database(url, pool_size=1))
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.base_url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> UnreachableStore:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


UNREACHABLE = [
    "sqlite:////nonexistent-patron-dir/patron.db",
    "postgresql://postgres@127.0.0.1:1/patron",
]


def error_body(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


# --- body size and shape ----------------------------------------------------------------------


def test_a_body_over_the_default_limit_is_413(api: Api, tenant: Tenant) -> None:
    query = "{ account { uuid } }" + " " * 1_000_000

    response = api.post("/graphql", {"query": query}, token=tenant.token)

    assert response.status_code == 413
    assert response.json() == error_body(
        "request body is larger than 1000000 bytes", "PAYLOAD_TOO_LARGE"
    )


def test_a_body_at_the_limit_is_read(tight: Api, tenant: Tenant) -> None:
    prefix = '{"query": "{ account { uuid } }'
    body = (prefix + " " * (2048 - len(prefix) - 2) + '"}').encode()
    assert len(body) == 2048

    response = tight.http.post(
        "/graphql", content=body, headers={"Authorization": f"Bearer {tenant.token}"}
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"account": {"uuid": tenant.uuid}}}


def test_a_declared_body_one_byte_over_the_limit_is_413(tight: Api, tenant: Tenant) -> None:
    body = b'{"query": "' + b" " * (2049 - 13) + b'"}'
    assert len(body) == 2049

    response = tight.http.post(
        "/graphql", content=body, headers={"Authorization": f"Bearer {tenant.token}"}
    )

    assert response.status_code == 413
    assert response.json() == error_body(
        "request body is larger than 2048 bytes", "PAYLOAD_TOO_LARGE"
    )


def test_a_chunked_body_over_the_limit_is_413(tight: Api, tenant: Tenant) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "'
        for _ in range(10):
            yield b" " * 500
        yield b'"}'

    response = tight.http.post(
        "/graphql", content=chunks(), headers={"Authorization": f"Bearer {tenant.token}"}
    )

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json() == error_body(
        "request body is larger than 2048 bytes", "PAYLOAD_TOO_LARGE"
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "the request body is empty; send a JSON object"),
        (b"[1, 2]", "the request body must be a JSON object"),
        (b'"{ account { uuid } }"', "the request body must be a JSON object"),
        (b"null", "the request body must be a JSON object"),
        (b"42", "the request body must be a JSON object"),
        (b"{}", "'query' must be a non-empty string"),
        (b'{"query": ""}', "'query' must be a non-empty string"),
        (b'{"query": 7}', "'query' must be a non-empty string"),
        (
            b'{"query": "{ account { uuid } }", "variables": [1]}',
            "'variables' must be a JSON object",
        ),
        (
            b'{"query": "{ account { uuid } }", "operationName": 1}',
            "'operationName' must be a string",
        ),
    ],
)
def test_a_body_that_is_not_a_graphql_request_is_400(
    api: Api, tenant: Tenant, raw: bytes, message: str
) -> None:
    response = api.http.post(
        "/graphql", content=raw, headers={"Authorization": f"Bearer {tenant.token}"}
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == error_body(message, "BAD_REQUEST")


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"query": }', b"{'query': '{ account { uuid } }'}", b"\xff\xfe{}", b"query { x }"],
)
def test_malformed_json_is_400(api: Api, tenant: Tenant, raw: bytes) -> None:
    response = api.http.post(
        "/graphql", content=raw, headers={"Authorization": f"Bearer {tenant.token}"}
    )

    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["message"].startswith("the request body is not valid JSON: ")
    assert body["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


def test_a_graphql_syntax_error_is_a_graphql_error_not_a_failure(api: Api, tenant: Tenant) -> None:
    body = api.graphql("{ account { uuid ", token=tenant.token)

    assert body == {
        "data": None,
        "errors": [
            {
                "message": "Syntax Error: Expected Name, found <EOF>.",
                "locations": [{"line": 1, "column": 18}],
                "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
            }
        ],
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"query": "query A { account { uuid } }", "operationName": "B"},
            "the query has no operation named 'B'",
        ),
        (
            {"query": "fragment F on Account { uuid }"},
            "the query must hold exactly one operation, or 'operationName' must name one",
        ),
    ],
)
def test_an_operation_that_cannot_be_chosen_is_400(
    api: Api, tenant: Tenant, body: dict[str, str], message: str
) -> None:
    response = api.post("/graphql", body, token=tenant.token)

    assert response.status_code == 400
    assert response.json() == error_body(message, "BAD_REQUEST")


def test_operation_name_chooses_among_several_operations(api: Api, tenant: Tenant) -> None:
    response = api.post(
        "/graphql",
        {
            "query": "query A { account { uuid } } query B { account { name } }",
            "operationName": "B",
        },
        token=tenant.token,
    )

    assert response.json() == {"data": {"account": {"name": "Test merchant"}}}


# --- query depth, size and aliases --------------------------------------------------------------


def test_a_query_within_the_depth_limit_runs(tight: Api, tenant: Tenant) -> None:
    data = tight.data("{ account { contacts { wallet { uuid } } } }", token=tenant.token)

    assert data == {"account": {"contacts": []}}


def test_a_query_deeper_than_the_limit_is_refused_before_it_runs(
    tight: Api, db: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_contact(db, tenant)
    calls: list[object] = []
    monkeypatch.setattr(customers, "find_customers", lambda *a, **k: calls.append(a) or [])

    body = tight.graphql(
        "query Deep { account { contacts { wallet { creditEntries { uuid } } } } }",
        token=tenant.token,
    )

    assert body["data"] is None
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        ("'Deep' exceeds maximum operation depth of 3", {"code": "GRAPHQL_VALIDATION_FAILED"})
    ]
    assert calls == []


def test_a_very_deep_query_is_refused_by_the_default_limit(api: Api, tenant: Tenant) -> None:
    nested = "{ account { contacts { wallet { creditEntries { uuid " + "{ x " * 20 + "} " * 24 + "}"

    body = api.graphql("query Deep " + nested, token=tenant.token)

    assert body["data"] is None
    assert "'Deep' exceeds maximum operation depth of 12" in [e["message"] for e in body["errors"]]


def test_a_query_with_too_many_tokens_is_refused(tight: Api, tenant: Tenant) -> None:
    query = "{ account { " + " ".join(["uuid"] * 120) + " } }"

    body = tight.graphql(query, token=tenant.token)

    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == [
        "Syntax Error: Document contains more than 100 tokens. Parsing aborted."
    ]


def test_a_query_with_too_many_aliases_is_refused(tight: Api, tenant: Tenant) -> None:
    query = "{ account { " + " ".join(f"a{i}: uuid" for i in range(4)) + " } }"

    body = tight.graphql(query, token=tenant.token)

    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == ["4 aliases found. Allowed: 3"]


def test_a_page_larger_than_250_is_refused_not_cut(api: Api, tenant: Tenant) -> None:
    body = api.graphql("{ account { contacts(limit: 1000) { uuid } } }", token=tenant.token)

    assert body["data"] is None
    assert body["errors"][0]["message"] == "limit must be between 0 and 250, got 1000"


# --- rate limit ---------------------------------------------------------------------------------


def test_a_token_over_its_rate_limit_gets_429_with_retry_after(
    database_url: str, tenant: Tenant, other_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: 6030.0))
    server = ThreadServer(database_url, rate_limit_per_minute=2).start()
    client = Api(server.base_url)
    try:
        allowed = [client.post("/graphql", {"query": ACCOUNT}, token=tenant.token) for _ in "ab"]
        limited = client.post("/graphql", {"query": ACCOUNT}, token=tenant.token)
        someone_else = client.post("/graphql", {"query": ACCOUNT}, token=other_tenant.token)
    finally:
        client.close()
        server.stop()

    assert [response.status_code for response in allowed] == [200, 200]
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "30"
    assert limited.json() == error_body("rate limit exceeded for this token", "RATE_LIMITED")
    assert someone_else.status_code == 200


# --- health and an unreachable store --------------------------------------------------------


def test_healthz_is_200_when_the_store_answers(api: Api) -> None:
    response = api.http.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("url", UNREACHABLE)
def test_without_its_store_a_server_is_alive_but_not_ready(url: str) -> None:
    with UnreachableStore(url) as running:
        alive = httpx.get(f"{running.base_url}/healthz", timeout=30)
        ready = httpx.get(f"{running.base_url}/readyz", timeout=30)

    assert alive.status_code == 200
    assert alive.json() == {"status": "ok"}
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "reason": "the store does not answer"}


@pytest.mark.parametrize("url", UNREACHABLE)
def test_a_request_while_the_store_does_not_answer_is_503_not_500(url: str) -> None:
    with UnreachableStore(url) as running:
        response = httpx.post(
            f"{running.base_url}/graphql",
            json={"query": ACCOUNT},
            headers={"Authorization": "Bearer patron_abc", "X-Request-Id": "store-down-1"},
            timeout=30,
        )

    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["x-request-id"] == "store-down-1"
    assert response.json() == {
        "errors": [
            {
                "message": "the store is unavailable; retry the request",
                "extensions": {"code": "UNAVAILABLE", "requestId": "store-down-1"},
            }
        ]
    }


# --- unexpected exceptions: logged with a request id, masked ---------------------------------


def test_an_unexpected_error_in_a_resolver_is_masked_and_logged_with_the_request_id(
    api: Api,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(customers, "find_customers", broken)
    monkeypatch.setattr(customers, "find_customer_values", broken)  # the fast path's read

    with caplog.at_level(logging.ERROR, logger="patron.api"):
        response = api.post(
            "/graphql",
            {"query": "{ account { contacts { uuid } } }"},
            token=tenant.token,
            headers={"X-Request-Id": "req-resolver-1"},
        )

    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-resolver-1"
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "Internal server error (request id req-resolver-1)",
                "path": ["account", "contacts"],
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-resolver-1"},
            }
        ],
    }
    assert "hunter2" not in response.text
    logged = [r for r in caplog.records if "req-resolver-1" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert "hunter2" in str(logged[0].exc_info[1])


def test_an_unexpected_error_in_a_mutation_is_masked_and_changes_nothing(
    api: Api, db: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(customers, "create_customer", broken)
    before = account_rows(db, tenant.uuid)

    response = api.post(
        "/graphql",
        {"query": 'mutation { createContact(contact: {email: "x@example.com"}) { success } }'},
        token=tenant.token,
    )

    request_id = response.headers["x-request-id"]
    assert len(request_id) == 16
    assert response.status_code == 200
    assert response.json()["errors"] == [
        {
            "message": f"Internal server error (request id {request_id})",
            "path": ["createContact"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        }
    ]
    assert "boom" not in response.text
    assert account_rows(db, tenant.uuid) == before


def test_an_unexpected_error_outside_graphql_is_a_masked_json_error(
    api: Api,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from patron.api import endpoint as app_module

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("token table on fire")

    monkeypatch.setattr(app_module.accounts, "authenticate", broken)

    with caplog.at_level(logging.ERROR, logger="patron.api"):
        response = api.post(
            "/graphql",
            {"query": ACCOUNT},
            token=tenant.token,
            headers={"X-Request-Id": "req-auth-1"},
        )

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"] == "req-auth-1"
    assert response.json() == {
        "errors": [
            {
                "message": "Internal server error (request id req-auth-1)",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-auth-1"},
            }
        ]
    }
    assert "on fire" not in response.text
    assert any("req-auth-1" in record.getMessage() for record in caplog.records)


def test_a_given_request_id_is_echoed_and_an_overlong_one_replaced(
    api: Api, tenant: Tenant
) -> None:
    given = "r" * 64
    kept = api.post(
        "/graphql", {"query": ACCOUNT}, token=tenant.token, headers={"X-Request-Id": given}
    )
    replaced = api.post(
        "/graphql", {"query": ACCOUNT}, token=tenant.token, headers={"X-Request-Id": given + "r"}
    )

    assert kept.headers["x-request-id"] == given
    assert replaced.headers["x-request-id"] != given + "r"
    assert len(replaced.headers["x-request-id"]) == 16


# --- never a 500 for client input ---------------------------------------------------------


NUL = "\u0000"


@pytest.mark.parametrize(
    "body",
    [
        {"query": "{ account { uuid } }", "variables": "x"},
        {
            "query": "query($n: Int) { account { contacts(limit: $n) { uuid } } }",
            "variables": {"n": "ten"},
        },
        {"query": "query($n: Int!) { account { contacts(limit: $n) { uuid } } }"},
        {"query": "{ account { contacts(limit: 99999999999) { uuid } } }"},
        {"query": 'mutation { deleteContact(uuid: "\\u0000") { success } }'},
        {
            "query": "mutation($u: String!) { deleteContact(uuid: $u) { success } }",
            "variables": {"u": NUL},
        },
        {
            "query": "mutation($u: String!) { updateContact(uuid: $u, contact: {}) { success } }",
            "variables": {"u": "a" + NUL},
        },
        {
            "query": "query($v: String) { account { contacts(uuid: $v) { uuid } } }",
            "variables": {"v": NUL},
        },
        {
            "query": "query($v: String) { account { contacts(email: $v) { uuid } } }",
            "variables": {"v": f"a{NUL}@example.com"},
        },
        {
            "query": "query($v: String) { account { contacts(shopifyId: $v) { uuid } } }",
            "variables": {"v": NUL},
        },
        {
            "query": "mutation($c: ContactInput!) { createContact(contact: $c) { success } }",
            "variables": {"c": {"identities": {"klaviyoId": "k" + NUL, "lightspeedId": NUL}}},
        },
        {
            "query": "mutation($c: ContactInput!) { createContact(contact: $c) { success } }",
            "variables": {
                "c": {
                    "name": "n" + NUL,
                    "email": f"a{NUL}@example.com",
                    "phone": "+1" + NUL,
                    "city": NUL,
                    "extraInfo": {"k": NUL},
                }
            },
        },
        {"query": "{ __schema { types { name } } }"},
        {"query": "subscription { x }"},
        {"query": "{" * 5000},
    ],
)
def test_client_input_never_gets_a_500(api: Api, tenant: Tenant, body: dict[str, Any]) -> None:
    response = api.post("/graphql", body, token=tenant.token)

    assert response.status_code in {200, 400}, response.text
    assert response.headers["content-type"] == "application/json"
    assert "Internal server error" not in response.text


def test_a_json_body_sent_as_text_plain_is_still_read(api: Api, tenant: Tenant) -> None:
    response = api.http.post(
        "/graphql",
        content=b'{"query": "{ account { uuid } }"}',
        headers={"Authorization": f"Bearer {tenant.token}", "Content-Type": "text/plain"},
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"account": {"uuid": tenant.uuid}}}
