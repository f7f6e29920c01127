"""Idempotency keys: a write carrying a key is applied at most once per account."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import JSON, Column, Connection, DateTime, String, Table, select

from patron.core.clock import utcnow
from patron.core.db import metadata
from patron.core.errors import Conflict, InvalidInput

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("operation", String(60), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("result", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

MAX_KEY_LENGTH = 200


class IdempotencyKeyReused(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"


def validate_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"idempotencyKey must be 1 to {MAX_KEY_LENGTH} printable characters",
            field="idempotencyKey",
        )
    return key


def fingerprint(operation: str, request: dict[str, Any]) -> str:
    """A stable hash of a command's input, so a replay can be told from a different request."""
    body = json.dumps({"op": operation, "request": request}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def find_result(
    connection: Connection, account_id: str, key: str, operation: str, request_hash: str
) -> dict[str, Any] | None:
    """The stored result of an earlier identical request, or None; another request is refused."""
    row = connection.execute(
        select(
            idempotency_keys.c.operation, idempotency_keys.c.request_hash, idempotency_keys.c.result
        ).where(idempotency_keys.c.account_id == account_id, idempotency_keys.c.key == key)
    ).first()
    if row is None:
        return None
    if row.operation != operation or row.request_hash != request_hash:
        raise IdempotencyKeyReused(
            f"idempotencyKey '{key}' was already used for a different request",
            field="idempotencyKey",
        )
    result: dict[str, Any] = row.result
    return result


def store_result(
    connection: Connection,
    account_id: str,
    key: str,
    operation: str,
    request_hash: str,
    result: dict[str, Any],
) -> None:
    """Claim the key in the caller's transaction; a concurrent twin fails on the primary key."""
    connection.execute(
        idempotency_keys.insert().values(
            account_id=account_id,
            key=key,
            operation=operation,
            request_hash=request_hash,
            result=result,
            created_at=utcnow(),
        )
    )
