"""The bench's serving models (``make bench -- --serving-models``, ``--server granian``): each
server it compares answers the read it is measured on, from the store, before any figure is
taken from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from bench import read_bound
from bench.run import SERVING_MODELS
from bench.server import FloorServer, PatronServer
from sqlalchemy import make_url

from patron.core.db import Database
from tests.support.client import Api
from tests.support.tenants import make_contact, new_tenant

_GET = read_bound.DOCUMENTS["get"]


def _contact(base_url: str, token: str, contact: str) -> Any:
    """The ``data`` of the read wrk sends for one contact, as a server answers it."""
    api = Api(base_url)
    try:
        return api.data(_GET, {"uuid": contact}, token=token)
    finally:
        api.close()


@pytest.fixture
def store(postgres_database: str) -> tuple[str, str, str]:
    """A store with one contact: its url, an admin token and the contact's uuid."""
    db = Database(postgres_database, pool_size=1)
    try:
        tenant = new_tenant(db)
        contact = make_contact(db, tenant, email="ada@example.com")
    finally:
        db.dispose()
    return postgres_database, tenant.token, contact.customer.uuid


def test_every_serving_model_reads_the_contact_from_the_store(
    store: tuple[str, str, str], tmp_path: Path
) -> None:
    url, token, contact = store
    captured = read_bound.capture(url, token, "get", [contact])
    requests = tmp_path / "requests.json"
    requests.write_bytes(orjson.dumps({contact: captured[0]}, default=str))
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    env = {"BENCH_FLOOR_DSN": libpq, "BENCH_FLOOR_REQUESTS": str(requests)}
    for kind, server_name, _what in SERVING_MODELS:
        server = FloorServer(
            kind, workers=1, log=tmp_path / f"{kind}-{server_name}.log", server=server_name, env=env
        )
        try:
            server.start(timeout=60)
            answer = _contact(server.base_url, token, contact)
        finally:
            server.stop()
        assert "ada@example.com" in json.dumps(answer, default=str), (kind, server_name, answer)


def test_granian_serves_patron_as_patron_serve_does(
    store: tuple[str, str, str], tmp_path: Path
) -> None:
    url, token, contact = store
    answers = []
    for server_name in ("uvicorn", "granian"):
        server = PatronServer(
            url, workers=1, log=tmp_path / f"{server_name}.log", env={}, server=server_name
        )
        try:
            server.start(timeout=60)
            # The first answer goes through the executor, the second from the compiled plan.
            answers += [_contact(server.base_url, token, contact) for _ in range(2)]
        finally:
            server.stop()
    assert answers[0]["account"]["contacts"][0]["email"] == "ada@example.com"
    assert all(answer == answers[0] for answer in answers), answers
