"""Stores: where orders are placed, each with an optional points multiplier."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from patron.accounts.principal import Principal
from patron.core import idempotency
from patron.core.clock import utcnow
from patron.core.counters import next_value
from patron.core.db import Database
from patron.core.errors import Conflict, NotFound
from patron.core.events import record_event
from patron.core.paging import check_page
from patron.core.unit import run_command
from patron.customers.validation import text
from patron.orders import earning, repository
from patron.orders.models import Store, StoreCommand


class StoreExists(Conflict):
    code = "STORE_EXISTS"


def _clean_store(command: StoreCommand) -> dict[str, Any]:
    multiplier = (
        earning.parse_rate(command.points_multiplier, field="pointsMultiplier")
        if command.points_multiplier is not None
        else None
    )
    return {
        "name": text(command.name, field="name", min_length=1, max_length=200),
        "external_id": (
            text(command.external_id, field="externalId", min_length=1, max_length=200)
            if command.external_id is not None
            else None
        ),
        "points_multiplier": str(multiplier) if multiplier is not None else None,
    }


def _same_store(store: Store, values: dict[str, Any]) -> bool:
    multiplier = str(store.points_multiplier) if store.points_multiplier is not None else None
    return bool(store.name == values["name"] and multiplier == values["points_multiplier"])


def create_store(db: Database, principal: Principal, command: StoreCommand) -> Store:
    """A new store; the same external id again returns it when nothing else differs."""
    principal.require("write")
    values = _clean_store(command)
    key = idempotency.validate_key(command.idempotency_key)
    operation = "create_store"
    digest = idempotency.fingerprint(operation, values)

    def write(connection: Connection) -> Store:
        account_id = principal.account_id
        if key is not None:
            stored = idempotency.find_result(connection, account_id, key, operation, digest)
            if stored is not None:
                return store_or_not_found(connection, principal, stored["uuid"])
        if values["external_id"] is not None:
            existing = repository.store_by_external_id(
                connection, account_id, values["external_id"]
            )
            if existing is not None:
                if _same_store(existing, values):
                    return existing
                raise StoreExists(
                    f"externalId '{values['external_id']}' belongs to another store "
                    f"('{existing.name}')",
                    field="externalId",
                )
        now = utcnow()
        store_uuid = str(uuid.uuid4())
        number = next_value(connection, account_id, "stores")
        repository.insert_store(
            connection,
            {
                "account_id": account_id,
                "uuid": store_uuid,
                "number": number,
                **values,
                "created_at": now,
                "updated_at": now,
            },
        )
        record_event(
            connection, account_id, "store.created", {"store_uuid": store_uuid, "number": number}
        )
        if key is not None:
            idempotency.store_result(
                connection, account_id, key, operation, digest, {"uuid": store_uuid}
            )
        return store_or_not_found(connection, principal, store_uuid)

    return run_command(db, write)


def store_or_not_found(connection: Connection, principal: Principal, store_uuid: str) -> Store:
    store = repository.get_store(connection, principal.account_id, store_uuid)
    if store is None:
        raise NotFound(f"no store with uuid '{store_uuid}'", field="storeUuid")
    return store


def get_store(connection: Connection, principal: Principal, store_uuid: str) -> Store:
    return store_or_not_found(connection, principal, store_uuid)


def list_stores(
    connection: Connection,
    principal: Principal,
    *,
    limit: int | None = None,
    offset: int | None = None,
) -> list[Store]:
    """Oldest first, so that a store keeps its place in the list."""
    size, start = check_page(limit, offset)
    return repository.list_stores(connection, principal.account_id, limit=size, offset=start)


def stores_by_uuid(
    connection: Connection, principal: Principal, store_uuids: Sequence[str]
) -> dict[str, Store]:
    return repository.stores_by_uuid(connection, principal.account_id, store_uuids)
