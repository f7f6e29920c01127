"""HTTP helpers shared by every surface: JSON bodies within limits, tokens from headers."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from patron.core.text import NUL_MESSAGE, holds_nul, nul_path


class HttpError(Exception):
    """A transport-level refusal (401, 400, 413, ...) with a JSON body."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        headers: dict[str, str] | None = None,
        *,
        field: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.field = field

    def body(self) -> dict[str, Any]:
        extensions: dict[str, Any] = {"code": self.code}
        if self.field is not None:
            extensions["field"] = self.field
        return {"errors": [{"message": self.message, "extensions": extensions}]}


class InvalidText(HttpError):
    """A string of the request that no store can keep (a NUL), named by its JSON path."""

    def __init__(self, path: str) -> None:
        super().__init__(400, f"{path} {NUL_MESSAGE}", "BAD_USER_INPUT", field=path)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def error_response(error: HttpError) -> Response:
    return json_response(error.body(), error.status, error.headers)


class JsonNumber(float):
    """A JSON number with a fraction or exponent, as written: a float for every rule that
    reads floats (an Int position still takes ``5.0``), and its ``text`` for the exact
    scalars (``Decimal(number.text)``), so ``10.1`` never passes through binary floating point."""

    text: str

    def __new__(cls, text: str) -> JsonNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number


def _holds_float(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float):
            return True
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def exact_numbers(raw: bytes, value: Any) -> Any:
    """``value`` (``raw`` as orjson read it) with every non-integer number a :class:`JsonNumber`.

    Only a body that holds such a number is read again, by the standard library, whose
    ``parse_float`` hands over each number's text; all others keep orjson's answer."""
    if not _holds_float(value):
        return value
    try:
        return json.loads(raw, parse_float=JsonNumber)
    except RecursionError:
        raise HttpError(400, "the request body is nested too deeply", "BAD_REQUEST") from None


async def read_json(request: Request, max_bytes: int, *, exact: bool = False) -> Any:
    """The request's JSON body within ``max_bytes``; ``exact``: numbers with a fraction or an
    exponent keep their text (:class:`JsonNumber`)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HttpError(400, "Content-Length is not a number", "BAD_REQUEST")
        if int(declared) > max_bytes:
            raise HttpError(
                413, f"request body is larger than {max_bytes} bytes", "PAYLOAD_TOO_LARGE"
            )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HttpError(
                413, f"request body is larger than {max_bytes} bytes", "PAYLOAD_TOO_LARGE"
            )
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise HttpError(400, "the request body is empty; send a JSON object", "BAD_REQUEST")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise HttpError(
            400, f"the request body is not valid JSON: {error}", "BAD_REQUEST"
        ) from None
    if holds_nul(raw):
        path = nul_path(value)
        if path is not None:
            raise InvalidText(path)
    return exact_numbers(raw, value) if exact else value


def bearer_token(
    request: Request, *extra_headers: str, schemes: tuple[str, ...] = ("bearer",)
) -> str:
    """The presented token: ``Authorization: <scheme> <token>`` or one of ``extra_headers``."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() not in schemes or not value.strip():
            raise HttpError(
                401,
                "the Authorization header must be 'Bearer <token>'",
                "UNAUTHENTICATED",
                {"WWW-Authenticate": "Bearer"},
            )
        return value.strip()
    for header in extra_headers:
        presented = request.headers.get(header)
        if presented:
            return presented.strip()
    raise HttpError(
        401,
        "an API token is required: send 'Authorization: Bearer <token>'",
        "UNAUTHENTICATED",
        {"WWW-Authenticate": "Bearer"},
    )
