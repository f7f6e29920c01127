"""``POST /compat/commerce/api/v6/commerce.contacts.<method>``: ``X-Key`` or ``Bearer``.

Transport problems are HTTP statuses, as the original answers them: a bad or missing key
(or one without the scope) 403, an unknown method 404, another HTTP method than POST 405,
over the rate limit 429 with Retry-After. A refused call is HTTP 200 with an error body.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from patron.accounts.principal import Principal
from patron.api.access_log import Observed, observed
from patron.api.compat.commerce.methods import METHODS
from patron.api.compat.commerce.protocol import (
    INVALID_VALUE,
    CommerceError,
    from_domain,
    malformed,
)
from patron.api.endpoint import UNAVAILABLE_HEADERS, Patron, request_id_of, unavailable_message
from patron.api.http import HttpError, InvalidText, bearer_token, json_response, read_json
from patron.api.metrics import OTHER
from patron.core.db import is_store_unavailable
from patron.core.errors import Conflict, DomainError, Forbidden

log = logging.getLogger("patron.api")

PREFIX = "/compat/commerce/api/v6/"
_NAMESPACE = "commerce.contacts."
_KEY_REQUIRED = "an API key is required: send 'X-Key: <key>' or 'Authorization: Bearer <key>'"
_HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


def _refusal(
    status: int, type_: str, description: str, headers: dict[str, str] | None = None
) -> Response:
    error = {"field": None, "type": type_, "description": description}
    return json_response({"status": "error", "error": error}, status, headers)


def _transport(error: HttpError) -> Response:
    if error.status == 401:  # the original answers a bad or missing key with 403
        return _refusal(403, "Forbidden", error.message)
    if error.status == 429:
        return _refusal(429, "RateLimited", error.message, error.headers)
    return _refusal(error.status, error.code, error.message, error.headers)


def _domain(error: DomainError) -> Response:
    if isinstance(error, Forbidden):
        return _refusal(403, "Forbidden", error.message)
    if isinstance(error, Conflict):
        return _refusal(409, "Conflict", error.message)
    return json_response(from_domain(error).body())


def _authorised(patron: Patron, token: str, scope: str) -> Principal:
    try:
        # Reads (find, get, count) may use a principal looked up in the last second.
        principal = patron.authenticate(token, cached=scope == "read")
        principal.require(scope)
    except HttpError as error:
        raise _Refused(_transport(error)) from None
    except Forbidden as error:
        raise _Refused(_refusal(403, "Forbidden", error.message)) from None
    return principal


def _request(body: Any) -> dict[str, Any]:
    if isinstance(body, HttpError):
        if body.status == 413:
            raise _Refused(_transport(body))
        if isinstance(body, InvalidText):
            raise CommerceError(body.field, INVALID_VALUE, body.message)
        raise malformed(None, body.message)
    if not isinstance(body, dict):
        raise malformed(None, "the request must be a JSON object")
    return body


def _call(
    patron: Patron, name: str, token: str, body: Any, request_id: str, seen: Observed | None
) -> Response:
    """Runs on a worker thread: authorise, parse, call, answer; never a 500 for bad input."""
    method, scope = METHODS[name]
    try:
        principal = _authorised(patron, token, scope)
        if seen is not None:
            seen.account_id = principal.account_id
        return json_response(method(patron.db, principal, _request(body)))
    except _Refused as refused:
        return refused.response
    except CommerceError as error:
        return json_response(error.body())
    except DomainError as error:
        return _domain(error)
    except Exception as error:
        if isinstance(error, DBAPIError) and is_store_unavailable(error):
            message = unavailable_message(error, request_id)
            return _refusal(503, "Unavailable", message, UNAVAILABLE_HEADERS)
        log.exception("unexpected error in request %s", request_id)
        return _refusal(500, "InternalError", f"Internal server error (request id {request_id})")


def commerce_routes(patron: Patron) -> list[BaseRoute]:
    async def endpoint(request: Request) -> Response:
        request_id = request_id_of(request)
        path = request.path_params["path"]
        name = path.removeprefix(_NAMESPACE)
        seen = observed(request.scope)
        if seen is not None:
            seen.operation = name if name in METHODS else OTHER
        if request.method != "POST":
            response = _refusal(405, "MethodNotAllowed", "use POST", {"Allow": "POST"})
        elif not path.startswith(_NAMESPACE) or name not in METHODS:
            response = _refusal(404, "UnknownMethod", f"there is no method '{path[:100]}'")
        else:
            try:
                token = bearer_token(request, "x-key")
            except HttpError as error:
                if not request.headers.get("authorization"):
                    error.message = _KEY_REQUIRED
                response = _transport(error)
            else:
                try:
                    body: Any = await read_json(request, patron.settings.max_body_bytes)
                except HttpError as error:
                    body = error
                response = await run_in_threadpool(
                    _call, patron, name, token, body, request_id, seen
                )
        response.headers["X-Request-Id"] = request_id
        return response

    return [Route(PREFIX + "{path:path}", endpoint, methods=_HTTP_METHODS)]
