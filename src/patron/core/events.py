"""The transactional outbox and the audit trail, written in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from patron.core.bulk import RowInsert, insert_tuples
from patron.core.clock import utcnow
from patron.core.db import inserting, metadata
from patron.core.ids import new_uuid, time_ordered_uuids

UNSETTLED = "status IN ('pending', 'delivering')"
DEAD = "status = 'dead'"

outbox_events = Table(
    "outbox_events",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("event_type", String(60), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(12), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    # Every write pays for every index here, so there are only the two the worker reads:
    # the dead letters an operator retries, and (below) the rows still to deliver. Listing or
    # purging delivered rows, an operator's occasional job, reads the table.
    Index(
        "ix_outbox_events_dead_account_id_created_at",
        "account_id",
        "created_at",
        postgresql_where=text(DEAD),
        sqlite_where=text(DEAD),
    ),
    # The dispatcher claims due rows across accounts (a Citus deployment runs it per shard):
    # the rows not yet settled, oldest first, so that a claim reads its batch from here rather
    # than sorting every due row (and stays as fast however many delivered rows are kept).
    Index(
        "ix_outbox_events_unsettled_created_at",
        "created_at",
        postgresql_where=text(UNSETTLED),
        sqlite_where=text(UNSETTLED),
    ),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("action", String(60), nullable=False),
    Column("subject_type", String(40), nullable=False),
    Column("subject_uuid", String(36), nullable=False),
    Column("actor", String(80), nullable=True),
    Column("actor_name", String(200), nullable=True),
    Column("details", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_audit_events_account_id_created_at", "account_id", "created_at"),
    # A person's own events, for what Patron holds about them (subject access).
    Index("ix_audit_events_account_id_subject_uuid", "account_id", "subject_uuid"),
)


# Built once: a write pays for its parameters only, not for a statement's construction.
_QUEUE = outbox_events.insert()
# ``record_event``'s row (``event_row``'s columns).
_QUEUE_ONE = inserting(
    outbox_events,
    ("account_id", "event_id", "event_type", "payload", "status", "attempts", "created_at"),
)


def record_event(
    connection: Connection, account_id: str, event_type: str, payload: dict[str, Any]
) -> str:
    """Queue an integration event in the caller's transaction; a worker delivers it later."""
    _, values = event_row(account_id, event_type, payload)
    queue_row(connection, values)
    return str(values["event_id"])


def queue_row(connection: Connection, values: dict[str, Any]) -> None:
    """Write the outbox row ``event_row`` made (its values), precompiled."""
    _QUEUE_ONE.execute(connection, values)


def event_row(account_id: str, event_type: str, payload: dict[str, Any]) -> RowInsert:
    """The outbox row ``record_event`` writes, for a caller that writes it together with
    others (``bulk.insert_together``)."""
    return outbox_events, {
        "account_id": account_id,
        "event_id": new_uuid(),
        "event_type": event_type,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "created_at": utcnow(),
    }


def record_events(
    connection: Connection,
    account_id: str,
    events: list[tuple[str, Any]],
    *,
    encoded: bool = False,
) -> None:
    """Queue many events with one statement (bulk jobs such as the expiry sweep), their ids
    time-ordered (``ids.time_ordered_uuids``) and ascending in the order given. ``encoded``:
    the payloads are given as their JSON text (as ``json.dumps`` writes it), for bulk jobs
    that write a payload of one shape per row from a template."""
    if not events:
        return
    now = utcnow()
    insert_tuples(
        connection,
        outbox_events,
        EVENT_COLUMNS,
        [
            (account_id, event_id, event_type, payload, "pending", 0, now)
            for event_id, (event_type, payload) in zip(
                time_ordered_uuids(len(events)), events, strict=True
            )
        ],
        json_text=("payload",) if encoded else (),
    )


# An outbox row's columns as ``event_row`` gives them: for statements that write one.
EVENT_COLUMNS = (
    "account_id",
    "event_id",
    "event_type",
    "payload",
    "status",
    "attempts",
    "created_at",
)


def record_audit(
    connection: Connection,
    account_id: str,
    *,
    action: str,
    subject_type: str,
    subject_uuid: str,
    actor: str | None,
    actor_name: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """An audit line; callers pass identifiers and counts only, never personal data.

    ``actor`` is who did it (``Principal.actor``: ``token:<id>``, ``consumer:<uuid>``,
    ``staff:<id>``, ``system:<job>``), ``actor_name`` the token's or job's name."""
    connection.execute(
        audit_events.insert().values(
            account_id=account_id,
            event_id=new_uuid(),
            action=action,
            subject_type=subject_type,
            subject_uuid=subject_uuid,
            actor=actor,
            actor_name=actor_name,
            details=details or {},
            created_at=utcnow(),
        )
    )
