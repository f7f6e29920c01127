"""One GraphQL endpoint for every surface, and the request plumbing they share.

Each GraphQL surface (the native API and the two GraphQL dialects) mounts
:func:`graphql_endpoint` with its own schema, its way of reading credentials off a request
and its way of turning them into a context; reading the body, the one read transaction,
executing, the error guard and the answer are the same for all of them.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from patron.accounts import service as accounts
from patron.accounts.principal import Principal
from patron.api.access_log import Observed, observed
from patron.api.graphql.context import Context
from patron.api.graphql.executor import execute
from patron.api.graphql.fastpath import FastReads
from patron.api.graphql.fastpath.writes import FastWrites
from patron.api.graphql.schema import PatronSchema, build_schema
from patron.api.http import HttpError, error_response, json_response, read_json
from patron.api.metrics import Operations
from patron.api.ratelimit import RateLimiter
from patron.core import on_loop
from patron.core.db import (
    Database,
    KeptReader,
    Rerun,
    confirm_refusals,
    confirm_writes,
    is_lock_contention,
    is_store_unavailable,
)
from patron.core.errors import Unauthenticated
from patron.core.settings import Settings

log = logging.getLogger("patron.api")
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,39}")

Credentials = TypeVar("Credentials")
Work = Callable[[], tuple[int, Any, dict[str, str]]]


class Patron:
    """What every request handler needs: settings, the store, the schema, the limiter."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.schema: PatronSchema = build_schema(settings)
        self.limiter = RateLimiter(settings.rate_limit_per_minute, db)
        seconds = settings.principal_cache_seconds
        self.principals = accounts.PrincipalCache(seconds) if seconds > 0 else None
        self.operations = Operations(settings.metrics_operations.split(","))
        # The known reads answered on the event loop borrow this one connection.
        self.kept = KeptReader(db)
        # Known mutations run on the event loop (on SQLite too: the loop waits for the writer's
        # turn, which another process may hold, without blocking; ``core.unit``).
        self.writes_on_event_loop = settings.writes_on_event_loop

    def authenticate(
        self, token: str, connection: Connection | None = None, *, cached: bool = False
    ) -> Principal:
        """Runs on a worker thread. Unauthenticated and 429 become HttpError. ``cached``: a
        read may be answered with a principal looked up in the last second."""
        try:
            principal = accounts.authenticate(
                self.db,
                token,
                touch_after_seconds=self.settings.token_touch_seconds,
                connection=connection,
                cache=self.principals if cached else None,
            )
        except Unauthenticated as error:
            raise HttpError(
                401, error.message, "UNAUTHENTICATED", {"WWW-Authenticate": "Bearer"}
            ) from None
        wait = self.limiter.check(principal.account_id, principal.token_id or principal.account_id)
        if wait is not None:
            raise HttpError(
                429,
                "rate limit exceeded for this token",
                "RATE_LIMITED",
                {"Retry-After": str(wait)},
            )
        return principal

    def known_read_context(
        self, token: str, request_id: str, make: Callable[..., Context] = Context, **extra: Any
    ) -> Context | None:
        """A known read's context (``make``: the surface's Context class) with the principal
        ``cached`` holds for ``token``, reading on this worker's kept connection; None when
        the token must be looked up on a thread."""
        principal = self.cached(token)
        if principal is None:
            return None
        return self._on_kept(principal, request_id, make, extra)

    def write_context(
        self,
        token: str,
        request_id: str,
        make: Callable[..., Context] = Context,
        *,
        fresh: bool = False,
        **extra: Any,
    ) -> Context:
        """A known mutation's context on the event loop, reading on this worker's kept
        connection. A principal looked up in the last ``principal_cache_seconds`` serves,
        and every write of the request confirms it first, in its own transaction
        (``accounts.PrincipalConfirmer``): the commands of one group commit share that one
        read of the token, made after all of them arrived, so a token revoked or narrowed
        before a write arrived still stops it, and the request is run again (``Rerun``) with
        its token looked up afresh. A refusal by scope confirms the principal the same way
        before it is answered (``core.db.confirm_refusals``). ``fresh``, or nothing
        remembered: looked up now."""
        principal = None if fresh else self.cached(token)
        if principal is not None:
            confirmer = accounts.PrincipalConfirmer(token, principal)
            confirm_writes(confirmer)
            kept = self.kept
            confirm_refusals(lambda: confirmer.before_refusal(kept.connection()))
        else:
            confirm_writes(None)
            confirm_refusals(None)
            principal = self.authenticate(token, self.kept.connection())
            if self.principals is not None:
                accounts.remember(token, principal, self.principals)
        return self._on_kept(principal, request_id, make, extra)

    def _on_kept(
        self,
        principal: Principal,
        request_id: str,
        make: Callable[..., Context],
        extra: dict[str, Any],
    ) -> Context:
        """A context that reads without a transaction on this worker's kept connection."""
        return make(
            db=self.db,
            principal=principal,
            request_id=request_id,
            autocommit=True,
            kept=self.kept,
            **extra,
        )

    def cached(self, token: str) -> Principal | None:
        """The principal of a token, when this process can admit its request without the
        store: looked up in the last ``principal_cache_seconds`` and within the rate budget it
        has already claimed. None: ``authenticate`` decides (on a worker thread)."""
        if self.principals is None:
            return None
        principal = accounts.cached_principal(token, self.principals)
        if principal is None or not self.limiter.admit_locally(
            principal.account_id, principal.token_id or principal.account_id
        ):
            return None
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


def request_id_of(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    if given and len(given) <= 64 and given.isprintable():
        return given
    return os.urandom(8).hex()  # 64 random bits, as the first 16 digits of a uuid4 gave


def masked(request_id: str) -> dict[str, Any]:
    return {
        "errors": [
            {
                "message": f"Internal server error (request id {request_id})",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
            }
        ]
    }


def error_code(body: Any) -> str | None:
    """The code of an answer's first error (None: no error), if it is one of Patron's."""
    if type(body) is not dict or not body.get("errors"):
        return None
    try:
        code = body["errors"][0]["extensions"]["code"]
    except (KeyError, IndexError, TypeError):
        return "UNKNOWN"
    return code if isinstance(code, str) and _CODE.fullmatch(code) else "UNKNOWN"


UNAVAILABLE_HEADERS = {"Retry-After": "1"}


def unavailable_message(error: DBAPIError, request_id: str) -> str:
    """What a client is told when the store cannot take its request now (a 503 with
    Retry-After): locked (SQLite), or out of reach, read-only or restarting (a failover).
    Logged on one line, without a traceback: it is the store's state, not a bug."""
    if is_lock_contention(error):
        return "the store is busy; retry the request"
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    log.warning(
        "store unavailable in request %s: %s: %s",
        request_id,
        type(getattr(error, "orig", None) or error).__name__,
        reason[0] if reason else "",
    )
    return "the store is unavailable; retry the request"


def guarded(
    request_id: str,
    work: Work,
    seen: Observed | None = None,
    *,
    passing: type[Exception] | None = None,
) -> Response:
    """Run a request's work on this thread, its answer's serialisation included: store
    trouble is a 503, and a bug is logged with the request id and answered as a masked JSON
    error, never with its details. ``seen`` learns the answer's error code; an exception of
    type ``passing`` is the caller's to handle."""
    try:
        status, body, headers = work()
        response = json_response(body, status, headers)
        if seen is not None:
            seen.code = error_code(body)
    except HttpError as error:
        response = json_response(error.body(), error.status, error.headers)
        if seen is not None:
            seen.code = error.code
    except DBAPIError as error:
        if seen is not None:
            seen.code = "UNAVAILABLE"
        if not is_store_unavailable(error):
            log.exception("unexpected error in request %s", request_id)
            response = json_response(masked(request_id), 500)
            if seen is not None:
                seen.code = "INTERNAL_SERVER_ERROR"
        else:
            message = unavailable_message(error, request_id)
            extensions = {"code": "UNAVAILABLE", "requestId": request_id}
            body = {"errors": [{"message": message, "extensions": extensions}]}
            response = json_response(body, 503, UNAVAILABLE_HEADERS)
    except Exception as error:
        if passing is not None and isinstance(error, passing):
            raise
        log.exception("unexpected error in request %s", request_id)
        response = json_response(masked(request_id), 500)
        if seen is not None:
            seen.code = "INTERNAL_SERVER_ERROR"
    response.headers["X-Request-Id"] = request_id
    return response


def _operation_problem(error: Exception, operation_name: str | None) -> HttpError:
    if isinstance(error, MissingQueryError | InvalidOperationTypeError):
        problem = "the query must be a query or a mutation"
    elif operation_name is not None:
        problem = f"the query has no operation named '{operation_name}'"
    else:
        problem = "the query must hold exactly one operation, or 'operationName' must name one"
    return HttpError(400, problem, "BAD_REQUEST")


def run_document(
    schema: strawberry.Schema,
    fast_writes: FastWrites | None,
    made: Context,
    query: str,
    variables: dict[str, Any] | None,
    operation_name: str | None,
) -> dict[str, Any]:
    """The body of a request: a known mutation from its plan, anything else (and a mutation
    its plan hands back before writing) by the full pipeline. Closes the context."""
    if fast_writes is not None and fast_writes.known(query, operation_name):
        try:
            answered = fast_writes.answer_known(query, operation_name, variables, made)
        except BaseException:
            made.close()
            raise
        if answered is not None:
            made.close()
            return answered
    try:
        return execute(schema, made, query, variables, operation_name)
    except (CannotGetOperationTypeError, MissingQueryError, InvalidOperationTypeError) as error:
        raise _operation_problem(error, operation_name) from None


@dataclass(frozen=True)
class Asking(Generic[Credentials]):
    """What a surface's context is made from: who asks (as read off the request), and the
    request's id."""

    credentials: Credentials
    request_id: str


ReadCredentials = Callable[[Request], Credentials]
# A known mutation's context made on the event loop (True: its token looked up afresh on the
# loop's kept connection): the mutation is then run there too, its command waiting for the
# loop's batch.
LoopContext = Callable[[Asking[Credentials], bool], Context]
MakeContext = Callable[[Asking[Credentials], Connection | None], Context]
# A known read's context made without the store (None: it needs the store, e.g. a token not
# looked up lately): such a read is answered on the event loop, with no thread hand-off.
CachedContext = Callable[[Asking[Credentials]], Context | None]


def token_context(patron: Patron, **extra: Any) -> MakeContext[str]:
    """How a surface that takes an API token makes its context: the token's principal (a
    known read may use one looked up in the last second) and ``extra`` context fields."""

    def context(asking: Asking[str], reader: Connection | None) -> Context:
        return Context(
            db=patron.db,
            principal=patron.authenticate(asking.credentials, reader, cached=reader is None),
            request_id=asking.request_id,
            _connection=reader,
            autocommit=reader is None,
            **extra,
        )

    return context


def cached_token_context(patron: Patron, **extra: Any) -> CachedContext[str]:
    """``token_context`` for a known read whose token's principal this process holds."""

    def context(asking: Asking[str]) -> Context | None:
        return patron.known_read_context(asking.credentials, asking.request_id, **extra)

    return context


def loop_token_context(patron: Patron, **extra: Any) -> LoopContext[str]:
    """``token_context`` for a known mutation run on the event loop."""

    def context(asking: Asking[str], fresh: bool) -> Context:
        return patron.write_context(asking.credentials, asking.request_id, fresh=fresh, **extra)

    return context


class _Unanswered(Exception):
    """A known read its plan did not answer: the full pipeline answers it instead."""


def _answer_on_the_loop(
    fast_reads: FastReads,
    made: Context,
    query: str,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    seen: Observed | None,
) -> Response | None:
    """A known read answered from its plan on the calling thread; None: the full pipeline
    answers (and reports) it."""

    def work() -> tuple[int, Any, dict[str, str]]:
        if seen is not None:
            seen.account_id = made.principal.account_id
        try:
            data = fast_reads.answer_known(query, operation_name, variables, made)
        finally:
            made.close()
        if data is None:
            raise _Unanswered
        return 200, {"data": data}, {}

    try:
        return guarded(made.request_id, work, seen, passing=_Unanswered)
    except _Unanswered:
        return None


@dataclass(frozen=True)
class _Mutation:
    """A known mutation's request, for ``_write_on_the_loop``."""

    schema: strawberry.Schema
    fast_writes: FastWrites
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None


async def _write_on_the_loop(
    mutation: _Mutation,
    make: Callable[[bool], Context],
    request_id: str,
    seen: Observed | None,
) -> Response:
    """A known mutation run on the event loop (``core.on_loop``): its context made there
    (``make``), its command written in the loop's next batch. A request whose remembered
    principal no longer holds (``Rerun``: nothing was written) runs again with its token
    looked up afresh (``make(True)``)."""

    def work(fresh: bool) -> tuple[int, Any, dict[str, str]]:
        made = make(fresh)
        if seen is not None:
            seen.account_id = made.principal.account_id
        body = run_document(
            mutation.schema,
            mutation.fast_writes,
            made,
            mutation.query,
            mutation.variables,
            mutation.operation_name,
        )
        return 200, body, {}

    try:
        return await on_loop.run(
            partial(guarded, passing=Rerun), request_id, partial(work, False), seen
        )
    except Rerun:
        return await on_loop.run(guarded, request_id, partial(work, True), seen)


def graphql_endpoint(
    patron: Patron,
    schema: strawberry.Schema,
    *,
    credentials: ReadCredentials[Credentials],
    context: MakeContext[Credentials],
    fast_reads: FastReads | None = None,
    cached_context: CachedContext[Credentials] | None = None,
    exact_numbers: bool = False,
    fast_writes: FastWrites | None = None,
    loop_context: LoopContext[Credentials] | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    """``POST`` of one GraphQL surface.

    ``credentials`` runs on the event loop and reads who asks off the request (HttpError
    for a missing or malformed token); ``context`` runs on a worker thread and makes the
    request's context, authenticating on the given read connection (None: a known read,
    which may use a principal looked up in the last second and reads without a transaction).
    ``fast_reads``, when the schema has them, answer known read documents from their plan.
    ``cached_context`` makes a known read's context without the store when it can; such a
    read is then answered on the event loop itself. Its plan's reads are short, bounded by
    the query limits, and never wait for a writer (SQLite's WAL, PostgreSQL's MVCC): handing
    them to a thread and back cost more of the interpreter's time than the reads themselves.
    ``exact_numbers``: JSON numbers of the variables keep their text for the exact scalars.
    ``fast_writes`` run known mutations from their plan (authenticated as any other request).
    ``loop_context``, when given, makes a known mutation's context on the event loop, and
    the mutation runs there (``core.on_loop``): its command joins the loop's next group
    commit and the loop serves other requests until that batch is written. No thread
    hand-off, and no thread waiting for the interpreter lock after each round trip.
    """
    db = patron.db

    operations = patron.operations

    async def endpoint(request: Request) -> Response:
        request_id = request_id_of(request)
        seen = observed(request.scope)
        try:
            who = credentials(request)
            query, variables, operation_name = parse_graphql_body(
                await read_json(request, patron.settings.max_body_bytes, exact=exact_numbers)
            )
        except HttpError as error:
            response = error_response(error)
            response.headers["X-Request-Id"] = request_id
            if seen is not None:
                seen.code = error.code
            return response
        if seen is not None:
            seen.operation = operations.label(query, operation_name)
        asking = Asking(who, request_id)

        if (
            cached_context is not None
            and fast_reads is not None
            and fast_reads.known(query, operation_name)
        ):
            made = cached_context(asking)
            if made is not None:
                answered = _answer_on_the_loop(
                    fast_reads, made, query, operation_name, variables, seen
                )
                if answered is not None:
                    return answered

        if (
            loop_context is not None
            and fast_writes is not None
            and fast_writes.known(query, operation_name)
        ):
            mutation = _Mutation(schema, fast_writes, query, variables, operation_name)
            return await _write_on_the_loop(
                mutation, partial(loop_context, asking), request_id, seen
            )

        def known_read(fast: FastReads) -> tuple[int, Any, dict[str, str]] | None:
            # A read the full pipeline has passed before: its plan answers it; any trouble
            # hands it to the full pipeline, which answers as it always would.
            made = context(asking, None)
            if seen is not None:
                seen.account_id = made.principal.account_id
            try:
                data = fast.answer_known(query, operation_name, variables, made)
            finally:
                made.close()
            return None if data is None else (200, {"data": data}, {})

        def work() -> tuple[int, Any, dict[str, str]]:
            if fast_reads is not None and fast_reads.known(query, operation_name):
                answered = known_read(fast_reads)
                if answered is not None:
                    return answered
            # On PostgreSQL the caller's lookup and the request's reads run without a
            # transaction: under READ COMMITTED each statement sees the latest commit either
            # way, and a write (whose answer may read nothing) saves a BEGIN and a COMMIT
            # round trip. On SQLite one read transaction serves the lookup.
            reader = db.engine.connect() if db.is_sqlite else db.connect_latest()
            try:
                reader.begin()
                made = context(asking, reader)
                if seen is not None:
                    seen.account_id = made.principal.account_id
                if db.is_sqlite:
                    # A SQLite read transaction keeps its first snapshot; a mutation's answer
                    # must see its own write, so reads begin afresh when first needed.
                    # (PostgreSQL's READ COMMITTED sees each committed write per statement.)
                    reader.commit()
            except BaseException:
                reader.close()
                raise
            body = run_document(schema, fast_writes, made, query, variables, operation_name)
            return 200, body, {}

        return await run_in_threadpool(guarded, request_id, work, seen)

    return endpoint
