"""Every test runs on both stores: SQLite and PostgreSQL, each a fresh database per test run.

Tests isolate themselves by tenant: each gets its own account, so they share a database
the way real merchants share a server, and cross-tenant leaks would show.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from patron.core import migrate
from patron.core.db import Database
from tests.support.client import Api
from tests.support.postgres import PostgresServer, which_server
from tests.support.server import ThreadServer
from tests.support.tenants import Tenant, new_tenant

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_report_header(config: pytest.Config) -> str:
    """Which PostgreSQL this run uses, said before the first test."""
    return f"patron: PostgreSQL tests run on {which_server()}"


def pytest_sessionstart(session: pytest.Session) -> None:
    """``-q`` (the default here) hides the report header: say it anyway, once per run."""
    config = session.config
    if config.get_verbosity() >= 0 or hasattr(config, "workerinput"):
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(pytest_report_header(config))


@pytest.fixture(autouse=True)
def _name_connections(request: pytest.FixtureRequest) -> None:
    """Every PostgreSQL connection a test opens (its servers' and its subprocesses' too) says
    which test opened it in ``pg_stat_activity``: a run that nears the server's connection
    ceiling shows who holds them."""
    os.environ["PGAPPNAME"] = ("t:" + request.node.nodeid.split("::", 1)[-1])[:63]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.acquire()
    yield server
    server.release()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'patron.db'}"
        migrate.upgrade(url)
        yield url
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    if server.url is None:
        message = f"PostgreSQL tests cannot run: {server.problem}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL is required)")
        pytest.skip("!!! " + message + " !!!")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"patron_test_{worker}_{secrets.token_hex(4)}"
    url = server.create_database(name)
    migrate.upgrade(url)
    yield url
    server.drop_database(name)


@pytest.fixture(scope="session")
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url, pool_size=8)
    yield database
    database.dispose()


@pytest.fixture
def tenant(db: Database) -> Tenant:
    """A fresh merchant account with an admin token."""
    return new_tenant(db)


@pytest.fixture
def other_tenant(db: Database) -> Tenant:
    return new_tenant(db, name="Other merchant")


@pytest.fixture(scope="session")
def server(database_url: str, db: Database) -> Iterator[ThreadServer]:
    running = ThreadServer(database_url).start()
    yield running
    running.stop()


@pytest.fixture
def api(server: ThreadServer) -> Iterator[Api]:
    client = Api(server.base_url)
    yield client
    client.close()


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of its own, for tests that are about PostgreSQL
    alone (failover, poolers, several nodes); under CI=true a missing server is a failure."""
    if postgres_server.url is None:
        message = f"PostgreSQL tests cannot run: {postgres_server.problem}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL is required)")
        pytest.skip("!!! " + message + " !!!")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"patron_test_{worker}_{secrets.token_hex(4)}"
    url = postgres_server.create_database(name)
    migrate.upgrade(url)
    yield url
    postgres_server.drop_database(name)
