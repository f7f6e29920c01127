"""The bare database bound of a known read: the SQL Patron's plan sends for one request,
replayed from a plain driver loop with no HTTP, GraphQL, ORM or Patron in the way.

The statements are captured from Patron itself, in this process: the read's document (the one
wrk sends for ``get`` or ``list``) is passed once through the full pipeline, then answered
from its plan for each of up to ``--bound-reads`` requests (one contact each for ``get``)
while ``before_cursor_execute`` records every statement and its driver parameters, exactly
as the server would send them. Each loop then replays them, a request at a time, on its own
connection that reads without a transaction (as the server's known reads do), fetching every
row. PostgreSQL: as many connections as the SPEND bound; SQLite: one per server worker (each
worker answers its known reads on one event loop).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event

from bench.bound import BoundResult, Transaction, _drive
from patron.accounts import service as accounts
from patron.api.graphql.context import Context
from patron.api.graphql.executor import execute
from patron.api.graphql.schema import build_schema
from patron.core.db import Database
from patron.core.settings import Settings

_CONTACT_FIELDS = (
    "uuid name email phone identities { shopify klaviyo lightspeed } "
    "wallet { uuid globalCreditBalance localCreditBalance }"
)
# The documents of scripts/patron.lua, as wrk sends them.
DOCUMENTS = {
    "get": "query GetContact($uuid: String) { account { contacts(uuid: $uuid) { "
    + _CONTACT_FIELDS
    + " } } }",
    "list": "query GetContacts($limit: Int, $offset: Int) { account { contacts(limit: $limit, "
    "offset: $offset) { " + _CONTACT_FIELDS + " } } }",
}
TARGETS = {"get": "one contact by uuid", "list": "a page of 50 contacts with wallets"}

Request = list[tuple[str, Any]]  # one request's statements and their driver parameters


def capture(url: str, token: str, operation: str, contact_uuids: list[str]) -> list[Request]:
    """What Patron's plan sends for each request of ``operation``."""
    query = DOCUMENTS[operation]
    variables = (
        [{"uuid": uuid} for uuid in contact_uuids] if operation == "get" else [{"limit": 50}]
    )
    db = Database(url, pool_size=1)
    try:
        schema = build_schema(Settings(database_url=url))
        principal = accounts.authenticate(db, token)
        first = Context(db=db, principal=principal, request_id="bound")
        answered = execute(schema, first, query, variables[0], None)
        if answered.get("errors"):
            raise RuntimeError(f"the {operation} document was refused: {answered['errors']}")
        assert schema.fast_reads is not None
        requests: list[Request] = []
        for given in variables:
            seen: Request = []

            def record(
                _conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any
            ) -> None:
                seen.append((statement, parameters))  # noqa: B023 - removed before the next

            event.listen(db.engine, "before_cursor_execute", record)
            context = Context(db=db, principal=principal, request_id="bound", autocommit=True)
            try:
                data = schema.fast_reads.answer_known(query, None, given, context)
            finally:
                context.close()
                event.remove(db.engine, "before_cursor_execute", record)
            if data is None or not data["account"]["contacts"]:
                raise RuntimeError(f"the {operation} plan did not answer {given}")
            requests.append(seen)
        return requests
    finally:
        db.dispose()


def _replay(requests: list[Request], execute_one: Callable[[str, Any], None]) -> Transaction:
    def transaction(key: str, _now: datetime) -> tuple[int, int]:
        for statement, parameters in requests[int(key)]:
            execute_one(statement, parameters)
        return 1, 0

    return transaction


def _bound(
    connect: Callable[[], tuple[Callable[[str, Any], None], Callable[[], None]]],
    requests: list[Request],
    operation: str,
    connections: int,
    warmup: float,
    seconds: float,
) -> BoundResult:
    """Drive ``connections`` loops, each with what ``connect`` opens: (run one statement and
    fetch its rows, close)."""

    def open_transaction() -> tuple[Transaction, Callable[[], None]]:
        execute_one, close = connect()
        return _replay(requests, execute_one), close

    return _drive(
        open_transaction,
        [str(index) for index in range(len(requests))],
        connections,
        warmup,
        seconds,
        TARGETS[operation],
        statements=f"{len(requests[0])} statement(s) a request",
    )


def postgresql_read_bound(
    libpq_url: str,
    requests: list[Request],
    *,
    operation: str,
    connections: int,
    warmup: float,
    seconds: float,
) -> BoundResult:
    def connect() -> tuple[Callable[[str, Any], None], Callable[[], None]]:
        connection = psycopg.connect(libpq_url, autocommit=True)
        cursor = connection.cursor()

        def execute_one(statement: str, parameters: Any) -> None:
            cursor.execute(statement, parameters)
            cursor.fetchall()

        return execute_one, connection.close

    return _bound(connect, requests, operation, connections, warmup, seconds)


def sqlite_read_bound(
    path: Path,
    requests: list[Request],
    *,
    operation: str,
    connections: int,
    warmup: float,
    seconds: float,
) -> BoundResult:
    def connect() -> tuple[Callable[[str, Any], None], Callable[[], None]]:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA query_only = ON")

        def execute_one(statement: str, parameters: Any) -> None:
            connection.execute(statement, parameters).fetchall()

        return execute_one, connection.close

    return _bound(connect, requests, operation, connections, warmup, seconds)
