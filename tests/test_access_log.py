"""One access log line per request, with nothing in it a log must not hold."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from patron.api.access_log import log as access_log
from patron.core.db import Database
from patron.core.logs import JsonFormatter
from patron.core.settings import Settings
from tests.support.server import ThreadServer
from tests.support.tenants import new_tenant

LINE = re.compile(r"^(GET|POST) (\S+) (\d{3}) (\d+\.\d)ms request_id=(\S+)$")


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def lines() -> Iterator[list[str]]:
    handler = Lines()
    access_log.addHandler(handler)
    yield handler.lines
    access_log.removeHandler(handler)


@pytest.fixture(scope="module")
def logging_server(database_url: str) -> Iterator[ThreadServer]:
    server = ThreadServer(database_url, access_log=True).start()
    yield server
    server.stop()


def test_each_request_is_one_line_without_token_query_string_or_personal_data(
    logging_server: ThreadServer, db: Database, lines: list[str]
) -> None:
    tenant = new_tenant(db)
    base = logging_server.base_url
    query = 'mutation { createContact(contact: {email: "jane.secret@example.com"}) { success } }'

    created = httpx.post(
        f"{base}/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {tenant.token}", "X-Request-Id": "req-42"},
    )
    refused = httpx.post(
        f"{base}/graphql?token=patron_leaked", json={"query": "{ account { name } }"}
    )
    health = httpx.get(f"{base}/healthz")

    assert created.status_code == 200
    ids = {"req-42", refused.headers["x-request-id"], health.headers["x-request-id"]}
    parsed = [LINE.match(line) for line in lines if line.rsplit("=", 1)[-1] in ids]
    assert all(parsed), lines
    assert [(m[1], m[2], m[3], m[5]) for m in parsed if m] == [
        ("POST", "/graphql", "200", "req-42"),
        ("POST", "/graphql", "401", refused.headers["x-request-id"]),
        ("GET", "/healthz", "200", health.headers["x-request-id"]),
    ]
    logged = "\n".join(lines)
    assert tenant.token not in logged
    assert "patron_leaked" not in logged
    assert "jane.secret" not in logged


def test_a_client_cannot_forge_a_line_through_its_request_id(
    logging_server: ThreadServer, lines: list[str]
) -> None:
    forged = f"{uuid.uuid4().hex} 200 0.1ms request_id=x"
    httpx.get(f"{logging_server.base_url}/healthz", headers={"X-Request-Id": forged})

    [line] = [line for line in lines if forged[:32] in line]
    assert LINE.match(line), line


def test_in_json_each_line_is_one_object_with_the_request_s_fields(
    logging_server: ThreadServer, db: Database
) -> None:
    tenant = new_tenant(db)
    formatted: list[str] = []

    class Formatted(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            formatted.append(self.format(record))

    handler = Formatted()
    handler.setFormatter(JsonFormatter())
    access_log.addHandler(handler)
    forged = 'x", "status": 999, "y": "'
    try:
        httpx.post(
            f"{logging_server.base_url}/graphql",
            json={"query": "query GetContacts { account { contacts { uuid } } }"},
            headers={"Authorization": f"Bearer {tenant.token}", "X-Request-Id": "req-json-1"},
        )
        httpx.get(f"{logging_server.base_url}/healthz", headers={"X-Request-Id": forged})
    finally:
        access_log.removeHandler(handler)

    lines = [json.loads(line) for line in formatted]
    assert all("\n" not in line for line in formatted)
    [line] = [line for line in lines if line["request_id"] == "req-json-1"]
    assert {key: line[key] for key in ("method", "path", "status", "account_id")} == {
        "method": "POST",
        "path": "/graphql",
        "status": 200,
        "account_id": tenant.uuid,
    }
    assert (line["surface"], line["operation"]) == ("native", "GetContacts")
    assert line["duration_ms"] >= 0
    assert all(line["status"] != 999 for line in lines)


def test_the_access_log_is_off_unless_enabled() -> None:
    assert Settings().access_log is False
