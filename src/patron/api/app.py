"""The ASGI application: ``/graphql``, ``/healthz``, ``/readyz``; dialects mount under
``/compat``, the admin console under ``/admin``."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

import anyio.to_thread
import strawberry
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from patron.api.access_log import AccessLog, configure_access_log
from patron.api.compat.commerce.routes import commerce_routes
from patron.api.compat.lightfunnels.routes import lightfunnels_routes
from patron.api.compat.loyaltydish.routes import loyaltydish_routes
from patron.api.console.routes import console_routes
from patron.api.endpoint import (
    Patron,
    cached_token_context,
    graphql_endpoint,
    loop_token_context,
    masked,
    request_id_of,
    token_context,
)
from patron.api.graphiql import graphiql_routes
from patron.api.graphql.schema import build_schema
from patron.api.http import bearer_token, json_response
from patron.api.metrics import Requests
from patron.core import metrics
from patron.core import migrate as migrations
from patron.core.db import Database
from patron.core.settings import Settings, load_settings
from patron.integrations.wiring import url_policy


def native_routes(patron: Patron) -> list[BaseRoute]:
    """``POST /graphql`` (``Authorization: Bearer`` or ``X-API-Token``) and GraphiQL."""
    settings = patron.settings

    post = graphql_endpoint(
        patron,
        patron.schema,
        credentials=lambda request: bearer_token(request, "x-api-token"),
        context=token_context(
            patron, webhook_urls=url_policy(settings), secret_key=settings.sealing_key
        ),
        fast_reads=patron.schema.fast_reads,
        cached_context=cached_token_context(
            patron, webhook_urls=url_policy(settings), secret_key=settings.sealing_key
        )
        if settings.reads_on_event_loop
        else None,
        exact_numbers=True,
        fast_writes=patron.schema.fast_writes,
        loop_context=loop_token_context(
            patron, webhook_urls=url_policy(settings), secret_key=settings.sealing_key
        )
        if patron.writes_on_event_loop
        else None,
    )
    ide = graphiql_routes() if settings.graphiql_enabled else []
    return [Route("/graphql", post, methods=["POST"]), *ide]


def create_app(settings: Settings | None = None, db: Database | None = None) -> Starlette:
    settings = settings or load_settings()
    db = db or Database(
        settings.database_url,
        pool_size=settings.pool_size,
        group_commit=settings.group_commit,
        group_lanes=settings.group_commit_lanes,
        prepared_statements=settings.database_prepared_statements,
    )
    patron = Patron(settings, db)

    async def healthz(request: Request) -> Response:
        """Liveness: the process answers. It asks nothing of the store, so that a store outage
        does not get every server restarted; /readyz says whether to send it requests."""
        return json_response({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """Readiness: the store answers and its schema is at this Patron's revision."""
        ready, detail = await run_in_threadpool(migrations.readiness, db.engine)
        if ready:
            return json_response({"status": "ready", "revision": detail})
        return json_response({"status": "unavailable", "reason": detail}, 503)

    routes = [
        *native_routes(patron),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        *lightfunnels_routes(patron),
        *commerce_routes(patron),
        *loyaltydish_routes(patron),
        *console_routes(patron),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        yield
        patron.kept.drop()
        db.dispose()

    async def last_resort(request: Request, _error: Exception) -> Response:
        # Each handler guards its own work; this answers what escaped one anyway in JSON
        # (Starlette then re-raises it, so the server's log keeps the traceback).
        request_id = request_id_of(request)
        return json_response(masked(request_id), 500, {"X-Request-Id": request_id})

    middleware = []
    requests = None
    if settings.metrics_port is not None:
        metrics.enable()
        metrics.instrument(db.engine)
        requests = Requests()
    if settings.access_log:
        configure_access_log(settings.log_format_used)
    if settings.access_log or requests is not None:
        middleware.append(
            Middleware(AccessLog, lines=settings.access_log, request_metrics=requests)
        )
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={Exception: last_resort},
    )
    app.state.patron = patron
    return app


def served_app() -> Starlette:
    """The application as ``patron serve`` runs it in each worker process: built, then what
    building it left (the schema, the tables, the compiled statements: most of the process's
    objects, all of them kept for its life) moved out of the garbage collector's sight
    (``gc.freeze``). A full collection otherwise walked them all, a pause of 45-85 ms in the
    middle of requests; it now walks what requests leave behind."""
    app = create_app()
    gc.collect()
    gc.freeze()
    return app


def printed_schema(settings: Settings | None = None) -> str:
    schema: strawberry.Schema = build_schema(settings or load_settings())
    return schema.as_str() + "\n"
