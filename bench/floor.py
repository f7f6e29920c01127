"""The floors under a request, served as ``patron serve`` serves (uvicorn with uvloop and
httptools, one socket per worker process) and loaded by the same wrk script:

- ``http``: Starlette reads the JSON body with orjson and answers a fixed body of the right
  shape. What any request costs before GraphQL or the store: the HTTP layer's floor.
- ``graphql``: the same, with the document executed by Strawberry (parser and validation
  caches on, as its documentation recommends) on resolvers that return fixed objects and read
  no store. What a request costs with an ordinary GraphQL server and no database.

Both answer ``get`` (seed 000's GetContact) and ``create`` (seed 000's CreateContact) so that
Patron's rate for each can be read as a share of them. Run alone:
``python -m bench.floor --kind graphql --port 8100 --workers 2``.

Three more kinds compare serving models for a read with its database work and no Patron
code: each answers ``get`` by sending the statements Patron's plan sends for that contact
(captured from Patron by ``bench.read_bound.capture``, read from ``BENCH_FLOOR_REQUESTS``) to
PostgreSQL (``BENCH_FLOOR_DSN``) with no transaction, fetching every row, and writing the rows
with orjson:

- ``sql-loop``: psycopg's blocking driver, one connection a worker, called on the event loop
  (how Patron answers its known reads);
- ``sql-threads``: the same driver in Starlette's thread pool, over a pool of connections
  (how Patron answers everything else);
- ``sql-async``: psycopg's async driver, awaited on the event loop over a pool of connections.

Each can be served by uvicorn (``main``) or by Granian (``create_app`` as its factory).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import uuid
import zlib
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import psycopg
import strawberry
from psycopg_pool import AsyncConnectionPool, ConnectionPool
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.extensions import ParserCache, ValidationCache

SQL_KINDS = ("sql-loop", "sql-threads", "sql-async")
KINDS = ("http", "graphql", *SQL_KINDS)
# Connections a worker process of ``sql-threads`` and ``sql-async`` holds.
SQL_POOL_SIZE = 4
_WALLET = "0190c2a8-8d1c-7a3e-9f00-000000000001"
_CONTACT = {
    "uuid": "0190c2a8-8d1c-7a3e-9f00-000000000002",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "phone": "+14155550123",
    "identities": {"shopify": "gid://shopify/Customer/1", "klaviyo": None, "lightspeed": None},
    "wallet": {"uuid": _WALLET, "globalCreditBalance": "12.50", "localCreditBalance": "3.00"},
}
_FIXED = {
    "get": orjson.dumps({"data": {"account": {"contacts": [_CONTACT]}}}),
    "create": orjson.dumps(
        {
            "data": {
                "createContact": {
                    "success": True,
                    "contact": {"uuid": _CONTACT["uuid"], "wallet": {"uuid": _WALLET}},
                    "errors": [],
                }
            }
        }
    ),
}


@strawberry.type
class Identities:
    shopify: str | None
    klaviyo: str | None
    lightspeed: str | None


@strawberry.type
class Wallet:
    uuid: str
    global_credit_balance: Decimal
    local_credit_balance: Decimal


@strawberry.type
class Contact:
    uuid: str
    name: str | None
    email: str | None
    phone: str | None
    identities: Identities
    wallet: Wallet


def _contact(uuid_: str) -> Contact:
    return Contact(
        uuid=uuid_,
        name="Ada Lovelace",
        email="ada@example.com",
        phone="+14155550123",
        identities=Identities(shopify="gid://shopify/Customer/1", klaviyo=None, lightspeed=None),
        wallet=Wallet(
            uuid=_WALLET,
            global_credit_balance=Decimal("12.50"),
            local_credit_balance=Decimal("3.00"),
        ),
    )


@strawberry.type
class Account:
    @strawberry.field
    def contacts(
        self, uuid: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> list[Contact]:
        return [_contact(uuid or _CONTACT["uuid"])]  # type: ignore[arg-type]


@strawberry.type
class Query:
    @strawberry.field
    def account(self) -> Account:
        return Account()


@strawberry.input
class IdentitiesInput:
    shopify_id: str | None = None


@strawberry.input
class ContactInput:
    email: str | None = None
    name: str | None = None
    phone: str | None = None
    identities: IdentitiesInput | None = None
    connected_services: list[str] | None = None


@strawberry.type
class ContactOutput:
    uuid: str
    wallet: Wallet


@strawberry.type
class CreateContactPayload:
    success: bool
    contact: ContactOutput | None
    errors: list[str]


@strawberry.type
class Mutation:
    @strawberry.mutation
    def create_contact(self, contact: ContactInput) -> CreateContactPayload:
        made = _contact(str(uuid.uuid4()))
        return CreateContactPayload(
            success=True, contact=ContactOutput(uuid=made.uuid, wallet=made.wallet), errors=[]
        )


SCHEMA = strawberry.Schema(
    query=Query, mutation=Mutation, extensions=[ParserCache, ValidationCache]
)


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


async def _http(request: Request) -> Response:
    body = orjson.loads(await request.body())
    return _json(_FIXED["create" if body["query"].lstrip().startswith("mutation") else "get"])


async def _graphql(request: Request) -> Response:
    body: dict[str, Any] = orjson.loads(await request.body())
    result = SCHEMA.execute_sync(
        body["query"],
        variable_values=body.get("variables"),
        operation_name=body.get("operationName"),
    )
    answer: dict[str, Any] = {"data": result.data}
    if result.errors:
        answer["errors"] = [error.formatted for error in result.errors]
    return _json(orjson.dumps(answer, default=str))


Statements = list[tuple[str, Any]]


class _Reads:
    """The captured statements of each contact's read; a contact not captured is read with
    the statements of one that was (the same work for the database)."""

    def __init__(self) -> None:
        captured: dict[str, Statements] = orjson.loads(
            Path(os.environ["BENCH_FLOOR_REQUESTS"]).read_bytes()
        )
        self.by_uuid = captured
        self.all = list(captured.values())

    def statements(self, body: dict[str, Any]) -> Statements:
        contact = str((body.get("variables") or {}).get("uuid") or "")
        found = self.by_uuid.get(contact)
        if found is not None:
            return found
        return self.all[zlib.crc32(contact.encode()) % len(self.all)]


def _rows(cursor: psycopg.Cursor[Any], statements: Statements) -> bytes:
    rows = []
    for statement, parameters in statements:
        cursor.execute(statement, parameters)
        rows.append(cursor.fetchall())
    return orjson.dumps({"data": {"rows": rows}}, default=str)


def _sql_app(kind: str) -> Starlette:
    dsn = os.environ["BENCH_FLOOR_DSN"]
    reads = _Reads()
    held: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        sizes = {"min_size": SQL_POOL_SIZE, "max_size": SQL_POOL_SIZE}
        async with contextlib.AsyncExitStack() as stack:  # closes what it opened
            if kind == "sql-loop":
                held["connection"] = stack.enter_context(psycopg.connect(dsn, autocommit=True))
            elif kind == "sql-threads":
                pool = ConnectionPool(dsn, **sizes, kwargs={"autocommit": True}, open=False)
                held["pool"] = stack.enter_context(pool)
            else:
                found = AsyncConnectionPool(dsn, **sizes, kwargs={"autocommit": True}, open=False)
                held["pool"] = await stack.enter_async_context(found)
            yield

    async def on_loop(request: Request) -> Response:
        statements = reads.statements(orjson.loads(await request.body()))
        return _json(_rows(held["connection"].cursor(), statements))

    async def in_threads(request: Request) -> Response:
        statements = reads.statements(orjson.loads(await request.body()))

        def read() -> bytes:
            with held["pool"].connection() as connection:
                return _rows(connection.cursor(), statements)

        return _json(await run_in_threadpool(read))

    async def awaited(request: Request) -> Response:
        statements = reads.statements(orjson.loads(await request.body()))
        rows = []
        async with held["pool"].connection() as connection:
            cursor = connection.cursor()
            for statement, parameters in statements:
                await cursor.execute(statement, parameters)
                rows.append(await cursor.fetchall())
        return _json(orjson.dumps({"data": {"rows": rows}}, default=str))

    handler = {"sql-loop": on_loop, "sql-threads": in_threads, "sql-async": awaited}[kind]
    return Starlette(
        routes=[
            Route("/graphql", handler, methods=["POST"]),
            Route("/healthz", lambda _: Response(b"ok"), methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def create_app() -> Starlette:
    kind = os.environ.get("BENCH_FLOOR", "http")
    if kind in SQL_KINDS:
        return _sql_app(kind)
    handler = _graphql if kind == "graphql" else _http
    return Starlette(
        routes=[
            Route("/graphql", handler, methods=["POST"]),
            Route("/healthz", lambda _: Response(b"ok"), methods=["GET"]),
        ]
    )


def main() -> None:
    import uvicorn

    from patron.cli.serve import _listen, _worker_sockets
    from patron.cli.workers import BalancedWorkers

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    os.environ["BENCH_FLOOR"] = options.kind
    sock = _listen("127.0.0.1", options.port)
    config = uvicorn.Config(
        "bench.floor:create_app",
        factory=True,
        host="127.0.0.1",
        port=options.port,
        workers=options.workers,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
    if options.workers > 1:
        BalancedWorkers(config, _worker_sockets(sock, options.workers)).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
