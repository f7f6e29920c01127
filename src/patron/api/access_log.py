"""Each request observed once: one log line, and its latency and answer in the metrics.

The line holds the method, the route's path, the status, the duration, the request id and,
once known, the account id, the surface and the GraphQL operation (a bounded label, see
:mod:`patron.api.metrics`). Nothing else is written: no header (so no token), no query
string, no body (so no personal data). The path is the route's, which holds at most an
account's uuid. Lines are off unless ``PATRON_ACCESS_LOG=true``; metrics are recorded when
``PATRON_METRICS_PORT`` is set. The endpoints fill in what they learn (operation, account,
error code) on the :class:`Observed` they find in the request's scope.
"""

from __future__ import annotations

import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patron.api import metrics
from patron.core import logs

log = logging.getLogger("patron.access")
_MAX_PATH = 200
_MAX_REQUEST_ID = 64
OBSERVED = "patron.observed"
_SHOWN = ("method", "path", "status", "duration_ms", "request_id")


class Observed:
    """What an endpoint learns about its request, for the log line and the metrics."""

    __slots__ = ("account_id", "code", "operation")

    def __init__(self) -> None:
        self.operation = metrics.NO_OPERATION
        self.code: str | None = None
        self.account_id: str | None = None


def observed(scope: Scope) -> Observed | None:
    found = scope.get(OBSERVED)
    return found if isinstance(found, Observed) else None


def _printable(text: str) -> str:
    """A client chooses the path and its request id: neither may forge or split a log line."""
    cleaned = "".join(char if char.isprintable() and char != " " else "?" for char in text)
    return cleaned[:_MAX_PATH]


def _given_id(scope: Scope) -> str:
    """The client's X-Request-Id, taken as the API endpoints take it (short and printable)."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            given = value.decode("latin-1")
            return given if len(given) <= _MAX_REQUEST_ID and given.isprintable() else ""
    return ""


def configure_access_log(log_format: str = "text") -> None:
    """Unless logging is set up already (``patron serve`` does), lines go to standard error."""
    if not log.handlers and not logging.getLogger("patron").handlers:
        logs.configure(log_format)
    log.setLevel(logging.INFO)


class AccessLog:
    """ASGI middleware around the whole app; the id is the one the response carries."""

    def __init__(
        self, app: ASGIApp, *, lines: bool = True, request_metrics: metrics.Requests | None = None
    ) -> None:
        self.app = app
        self.lines = lines
        self.metrics = request_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what a client sees when the app fails before it answers
        request_id = ""
        done = False
        seen = Observed()
        scope[OBSERVED] = seen

        def finish() -> None:
            nonlocal done
            done = True
            elapsed = time.perf_counter() - started
            surface = metrics.surface_of(scope["path"])
            if self.metrics is not None:
                self.metrics.record(surface, seen.operation, status, seen.code, elapsed)
            if self.lines:
                self._line(scope, status, elapsed, request_id, surface, seen)

        async def sending(message: Message) -> None:
            nonlocal status, request_id
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                for name, value in headers:
                    if name.lower() == b"x-request-id":
                        request_id = value.decode("latin-1")
                if not request_id:
                    request_id = _given_id(scope) or uuid.uuid4().hex[:16]
                    encoded = request_id.encode("latin-1")
                    message["headers"] = [*headers, (b"x-request-id", encoded)]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Before the last bytes leave: whoever got the answer can read its line.
                finish()
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if not done:
                finish()

    @staticmethod
    def _line(
        scope: Scope,
        status: int,
        elapsed: float,
        request_id: str,
        surface: str,
        seen: Observed,
    ) -> None:
        path = _printable(scope["path"])
        shown_id = _printable(request_id) or "-"
        milliseconds = round(elapsed * 1000, 1)
        fields = {
            "method": scope["method"],
            "path": path,
            "status": status,
            "duration_ms": milliseconds,
            "request_id": shown_id,
            "account_id": seen.account_id or "-",
            "surface": surface,
            "operation": seen.operation,
        }
        log.info(
            "%s %s %d %.1fms request_id=%s",
            scope["method"],
            path,
            status,
            milliseconds,
            shown_id,
            extra={"fields": fields, "shown": _SHOWN},
        )
