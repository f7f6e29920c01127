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
"""

from __future__ import annotations

import argparse
import os
import uuid
from decimal import Decimal
from typing import Any

import orjson
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.extensions import ParserCache, ValidationCache

KINDS = ("http", "graphql")
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


def create_app() -> Starlette:
    kind = os.environ.get("BENCH_FLOOR", "http")
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
