"""One log line per request: method, path, status, duration and request id.

Nothing else is written: no header (so no token), no query string, no body (so no personal
data). The path is the route's, which holds at most an account's uuid. Off unless
``PATRON_ACCESS_LOG=true`` (``make run`` sets it).
"""

from __future__ import annotations

import logging
import sys
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("patron.access")
_MAX_PATH = 200
_MAX_REQUEST_ID = 64


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


def configure_access_log() -> None:
    """A handler of its own on standard error, as the server's own lines go, unless one exists."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.INFO)


class AccessLog:
    """ASGI middleware around the whole app; the id is the one the response carries."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what a client sees when the app fails before it answers
        request_id = ""
        logged = False

        def write_line() -> None:
            nonlocal logged
            logged = True
            log.info(
                "%s %s %d %.1fms request_id=%s",
                scope["method"],
                _printable(scope["path"]),
                status,
                (time.perf_counter() - started) * 1000,
                _printable(request_id) or "-",
            )

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
                write_line()
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if not logged:
                write_line()
