"""The ASGI application: ``/graphql``, ``/healthz``; dialects mount under ``/compat``."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
import strawberry
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from strawberry.http.ides import get_graphql_ide_html
from strawberry.schema.exceptions import CannotGetOperationTypeError

from patron.accounts import service as accounts
from patron.accounts.principal import Principal
from patron.api.graphql.context import Context
from patron.api.graphql.executor import execute
from patron.api.graphql.schema import build_schema
from patron.api.http import HttpError, bearer_token, error_response, json_response, read_json
from patron.api.ratelimit import RateLimiter
from patron.core.db import Database, is_lock_contention
from patron.core.errors import Unauthenticated
from patron.core.settings import Settings, load_settings
from patron.integrations.wiring import url_policy

log = logging.getLogger("patron.api")


class Patron:
    """What every request handler needs: settings, the store, the schema, the limiter."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.schema = build_schema(settings)
        self.limiter = RateLimiter(settings.rate_limit_per_minute)

    def authenticate(self, token: str, connection: Connection | None = None) -> Principal:
        """Runs on a worker thread. Unauthenticated and 429 become HttpError."""
        try:
            principal = accounts.authenticate(
                self.db,
                token,
                touch_after_seconds=self.settings.token_touch_seconds,
                connection=connection,
            )
        except Unauthenticated as error:
            raise HttpError(
                401, error.message, "UNAUTHENTICATED", {"WWW-Authenticate": "Bearer"}
            ) from None
        wait = self.limiter.check(principal.token_id or principal.account_id)
        if wait is not None:
            raise HttpError(
                429,
                "rate limit exceeded for this token",
                "RATE_LIMITED",
                {"Retry-After": str(wait)},
            )
        return principal


def parse_graphql_body(body: Any) -> tuple[str, dict[str, Any] | None, str | None]:
    if not isinstance(body, dict):
        raise HttpError(400, "the request body must be a JSON object", "BAD_REQUEST")
    query = body.get("query")
    variables = body.get("variables")
    operation_name = body.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise HttpError(400, "'query' must be a non-empty string", "BAD_REQUEST")
    if variables is not None and not isinstance(variables, dict):
        raise HttpError(400, "'variables' must be a JSON object", "BAD_REQUEST")
    if operation_name is not None and not isinstance(operation_name, str):
        raise HttpError(400, "'operationName' must be a string", "BAD_REQUEST")
    return query, variables, operation_name


def _operation_problem(operation_name: str | None) -> str:
    if operation_name is not None:
        return f"the query has no operation named '{operation_name}'"
    return "the query must hold exactly one operation, or 'operationName' must name one"


def request_id_of(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    if given and len(given) <= 64 and given.isprintable():
        return given
    return uuid.uuid4().hex[:16]


def guarded(
    patron: Patron, request_id: str, work: Callable[[], tuple[int, Any, dict[str, str]]]
) -> Response:
    """Run a request's work on this thread, its answer's serialisation included: store
    trouble is a 503, and a bug is logged with the request id and answered as a masked JSON
    error, never with its details."""
    try:
        status, body, headers = work()
        response = json_response(body, status, headers)
    except HttpError as error:
        response = json_response(error.body(), error.status, error.headers)
    except OperationalError as error:
        if is_lock_contention(error):
            message = "the store is busy; retry the request"
        else:
            log.exception("store unavailable in request %s", request_id)
            message = "the store is unavailable; retry the request"
        body = {
            "errors": [
                {"message": message, "extensions": {"code": "UNAVAILABLE", "requestId": request_id}}
            ]
        }
        response = json_response(body, 503, {"Retry-After": "1"})
    except Exception:
        log.exception("unexpected error in request %s", request_id)
        body = {
            "errors": [
                {
                    "message": f"Internal server error (request id {request_id})",
                    "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                }
            ]
        }
        response = json_response(body, 500)
    response.headers["X-Request-Id"] = request_id
    return response


def create_app(settings: Settings | None = None, db: Database | None = None) -> Starlette:
    settings = settings or load_settings()
    db = db or Database(settings.database_url, pool_size=settings.pool_size)
    patron = Patron(settings, db)
    webhook_urls = url_policy(settings)
    ide_html = get_graphql_ide_html()

    async def graphql_get(request: Request) -> Response:
        return HTMLResponse(ide_html)

    async def graphql_post(request: Request) -> Response:
        request_id = request_id_of(request)
        try:
            token = bearer_token(request, "x-api-token")
            query, variables, operation_name = parse_graphql_body(
                await read_json(request, settings.max_body_bytes)
            )
        except HttpError as error:
            return error_response(error)

        def work() -> tuple[int, Any, dict[str, str]]:
            # One read transaction serves the token lookup and every read of the request.
            reader = db.engine.connect()
            try:
                reader.begin()
                principal = patron.authenticate(token, reader)
                if db.is_sqlite:
                    # A SQLite read transaction keeps its first snapshot; a mutation's answer
                    # must see its own write, so reads begin afresh when first needed.
                    # (PostgreSQL's READ COMMITTED sees each committed write per statement.)
                    reader.commit()
            except BaseException:
                reader.close()
                raise
            context = Context(
                db=db,
                principal=principal,
                request_id=request_id,
                _connection=reader,
                webhook_urls=webhook_urls,
                secret_key=settings.sealing_key,
            )
            try:
                body = execute(patron.schema, context, query, variables, operation_name)
            except CannotGetOperationTypeError:
                raise HttpError(400, _operation_problem(operation_name), "BAD_REQUEST") from None
            return 200, body, {}

        return await run_in_threadpool(guarded, patron, request_id, work)

    async def healthz(request: Request) -> Response:
        healthy = await run_in_threadpool(db.ping)
        if healthy:
            return json_response({"status": "ok"})
        return json_response({"status": "unavailable"}, 503)

    # Imported here because the dialects build on this module's request helpers.
    from patron.api.compat.commerce.routes import commerce_routes
    from patron.api.compat.lightfunnels.routes import lightfunnels_routes
    from patron.api.compat.loyaltydish.routes import loyaltydish_routes

    routes = [
        Route("/graphql", graphql_post, methods=["POST"]),
        Route("/graphql", graphql_get, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        *lightfunnels_routes(patron),
        *commerce_routes(patron),
        *loyaltydish_routes(patron),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        yield
        db.dispose()

    async def last_resort(request: Request, _error: Exception) -> Response:
        # Each handler guards its own work; this answers what escaped one anyway in JSON
        # (Starlette then re-raises it, so the server's log keeps the traceback).
        request_id = request_id_of(request)
        body = {
            "errors": [
                {
                    "message": f"Internal server error (request id {request_id})",
                    "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                }
            ]
        }
        return json_response(body, 500, {"X-Request-Id": request_id})

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={Exception: last_resort})
    app.state.patron = patron
    return app


def printed_schema(settings: Settings | None = None) -> str:
    schema: strawberry.Schema = build_schema(settings or load_settings())
    return schema.as_str() + "\n"
