"""``POST /compat/loyaltydish/graphql`` (a merchant's API token or a consumer's JWT, as
``Authorization: Bearer …`` or ``Authorization: JWT …``) and
``POST /compat/loyaltydish/<account uuid>/graphql`` (the same, and the public: signup and
login without any token)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from strawberry.schema.exceptions import CannotGetOperationTypeError

from patron.accounts.principal import Principal
from patron.accounts.service import TOKEN_PREFIX
from patron.api.app import Patron, guarded, parse_graphql_body, request_id_of
from patron.api.compat.loyaltydish.context import Caller, LoyaltydishContext
from patron.api.compat.loyaltydish.schema import build_schema
from patron.api.graphql.executor import execute
from patron.api.http import HttpError, bearer_token, error_response, read_json
from patron.consumers import service as consumers
from patron.consumers.models import TokenPolicy
from patron.core.errors import Unauthenticated
from patron.core.settings import Settings

MERCHANT_PATH = "/compat/loyaltydish/graphql"
PUBLIC_PATH = "/compat/loyaltydish/{account}/graphql"
_SCHEMES = ("bearer", "jwt")
_CHALLENGE = {"WWW-Authenticate": 'Bearer, JWT realm="loyaltydish"'}


def token_policy(settings: Settings) -> TokenPolicy:
    secret = settings.jwt_secret.get_secret_value().encode() if settings.jwt_secret else None
    return TokenPolicy(
        secret=secret,
        access_seconds=settings.jwt_access_seconds,
        refresh_days=settings.refresh_token_days,
    )


def _rate_limited(patron: Patron, key: str) -> None:
    wait = patron.limiter.check(key)
    if wait is not None:
        raise HttpError(
            429, "rate limit exceeded; retry later", "RATE_LIMITED", {"Retry-After": str(wait)}
        )


class _Callers:
    """Who a request is: runs on a worker thread, answers 401/404/429 as HttpError. The
    lookups run on the request's read connection."""

    def __init__(self, patron: Patron) -> None:
        self.patron = patron
        self.policy = token_policy(patron.settings)

    def merchant(
        self, token: str, account_id: str | None, reader: Connection
    ) -> tuple[Caller, Principal]:
        principal = self.patron.authenticate(token, reader)
        if account_id is not None and principal.account_id != account_id:
            raise HttpError(
                401, "the API token belongs to another account", "UNAUTHENTICATED", _CHALLENGE
            )
        return Caller.MERCHANT, principal

    def consumer(
        self, token: str, account_id: str | None, reader: Connection
    ) -> tuple[Caller, Principal]:
        try:
            principal = consumers.authenticate(
                self.patron.db, self.policy, token, account_id=account_id, connection=reader
            )
        except Unauthenticated as error:
            raise HttpError(401, error.message, "UNAUTHENTICATED", _CHALLENGE) from None
        _rate_limited(self.patron, f"consumer:{principal.customer_uuid}")
        return Caller.CONSUMER, principal

    def public(
        self, account_id: str, client: str | None, reader: Connection
    ) -> tuple[Caller, Principal]:
        principal = consumers.public_principal(self.patron.db, account_id, connection=reader)
        if principal is None:
            raise HttpError(404, f"no account '{account_id[:40]}'", "NOT_FOUND")
        _rate_limited(self.patron, f"address:{client or 'unknown'}")
        return Caller.PUBLIC, principal

    def of(
        self, token: str | None, account_id: str | None, client: str | None, reader: Connection
    ) -> tuple[Caller, Principal]:
        if token is None:
            assert account_id is not None
            return self.public(account_id, client, reader)
        if token.startswith(TOKEN_PREFIX):
            return self.merchant(token, account_id, reader)
        return self.consumer(token, account_id, reader)


def loyaltydish_routes(patron: Patron) -> list[BaseRoute]:
    schema = build_schema(patron.settings)
    callers = _Callers(patron)

    async def handle(request: Request, account_id: str | None) -> Response:
        request_id = request_id_of(request)
        try:
            token = (
                bearer_token(request, schemes=_SCHEMES)
                if account_id is None or "authorization" in request.headers
                else None
            )
            query, variables, operation_name = parse_graphql_body(
                await read_json(request, patron.settings.max_body_bytes)
            )
        except HttpError as error:
            return error_response(error)
        client = request.client.host if request.client else None

        def work() -> tuple[int, Any, dict[str, str]]:
            # One read transaction serves the caller's lookup and every read of the request.
            db = patron.db
            reader = db.engine.connect()
            try:
                reader.begin()
                caller, principal = callers.of(token, account_id, client, reader)
                if db.is_sqlite:
                    # A SQLite read keeps its first snapshot; a mutation's answer must see
                    # its own write, so reads begin afresh when first needed.
                    reader.commit()
            except BaseException:
                reader.close()
                raise
            context = LoyaltydishContext(
                db=db,
                principal=principal,
                request_id=request_id,
                _connection=reader,
                caller=caller,
                policy=callers.policy,
                client_address=client,
            )
            try:
                body = execute(schema, context, query, variables, operation_name)
            except CannotGetOperationTypeError:
                message = (
                    f"the query has no operation named '{operation_name}'"
                    if operation_name is not None
                    else "the query must hold exactly one operation, or 'operationName' must "
                    "name one"
                )
                raise HttpError(400, message, "BAD_REQUEST") from None
            return 200, body, {}

        return await run_in_threadpool(guarded, patron, request_id, work)

    async def merchant_endpoint(request: Request) -> Response:
        return await handle(request, None)

    async def public_endpoint(request: Request) -> Response:
        return await handle(request, str(request.path_params["account"]))

    return [
        Route(MERCHANT_PATH, merchant_endpoint, methods=["POST"]),
        Route(PUBLIC_PATH, public_endpoint, methods=["POST"]),
    ]
