"""The outbox rows as a queue: claiming with a lease, settling, and the operators' commands.

A claimed row is ``delivering`` with ``next_attempt_at`` as the end of its lease. A worker that
dies mid-batch leaves its rows there; once the lease runs out any worker claims them again, so
nothing is lost (delivery is at-least-once; the event id lets receivers drop duplicates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    case,
    delete,
    func,
    literal,
    null,
    or_,
    select,
    tuple_,
    update,
)

from patron.core.bulk import pairs_in
from patron.core.clock import as_utc, utcnow
from patron.core.db import Database
from patron.core.events import outbox_events

PENDING = "pending"
DELIVERING = "delivering"
DELIVERED = "delivered"
DEAD = "dead"
STATUSES = (PENDING, DELIVERING, DELIVERED, DEAD)


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    account_id: str
    event_id: str
    event_type: str
    payload: dict[str, Any]
    attempts: int  # this one included
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxRow:
    account_id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Settlement:
    """What became of one claimed event: delivered, retried at ``retry_at``, or dead."""

    account_id: str
    event_id: str
    status: str
    error: str | None = None
    retry_at: datetime | None = None


def _key(account_id: str, event_id: str) -> Any:
    return and_(outbox_events.c.account_id == account_id, outbox_events.c.event_id == event_id)


def claim(
    db: Database,
    *,
    limit: int,
    lease_seconds: float,
    max_attempts: int,
    account_id: str | None = None,
    now: datetime | None = None,
    due_by: datetime | None = None,
) -> list[OutboxEvent]:
    """Due rows, oldest first, leased to the caller; rows out of attempts become dead instead.

    One statement: the due rows are picked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
    workers never pick the same row), leased or parked, and returned as they now are.
    ``account_id`` limits the claim to one account (an operator draining one merchant);
    ``due_by`` takes only rows due by then (default: now), the lease runs from now.
    """
    now = now or utcnow()
    due_by = due_by or now
    due = or_(
        and_(
            outbox_events.c.status == PENDING,
            or_(
                outbox_events.c.next_attempt_at.is_(None),
                outbox_events.c.next_attempt_at <= due_by,
            ),
        ),
        and_(outbox_events.c.status == DELIVERING, outbox_events.c.next_attempt_at <= due_by),
    )
    picked = (
        select(outbox_events.c.account_id, outbox_events.c.event_id)
        # Said outright so that the planner reads the rows from the unsettled-rows index.
        .where(outbox_events.c.status.in_((PENDING, DELIVERING)), due)
        .order_by(outbox_events.c.created_at)
        .limit(limit)
    )
    if account_id is not None:
        picked = picked.where(outbox_events.c.account_id == account_id)
    if not db.is_sqlite:
        picked = picked.with_for_update(skip_locked=True)
    spent = outbox_events.c.attempts >= max_attempts
    next_attempt_at = outbox_events.c.next_attempt_at
    gave_up = f"gave up after {max_attempts} attempts (the last did not finish)"
    statement = (
        update(outbox_events)
        .where(tuple_(outbox_events.c.account_id, outbox_events.c.event_id).in_(picked))
        .values(
            status=case((spent, DEAD), else_=DELIVERING),
            attempts=case((spent, outbox_events.c.attempts), else_=outbox_events.c.attempts + 1),
            next_attempt_at=case(
                (spent, null()),
                else_=literal(now + timedelta(seconds=lease_seconds), next_attempt_at.type),
            ),
            last_error=case((spent, gave_up), else_=outbox_events.c.last_error),
        )
        .returning(
            outbox_events.c.account_id,
            outbox_events.c.event_id,
            outbox_events.c.event_type,
            outbox_events.c.payload,
            outbox_events.c.attempts,
            outbox_events.c.created_at,
            outbox_events.c.status,
        )
    )
    with db.write() as connection:
        rows = connection.execute(statement).all()
    claimed = sorted(
        (row for row in rows if row.status == DELIVERING),
        key=lambda row: (as_utc(row.created_at), row.event_id),
    )
    return [
        OutboxEvent(
            account_id=row.account_id,
            event_id=row.event_id,
            event_type=row.event_type,
            payload=dict(row.payload),
            attempts=row.attempts,
            created_at=as_utc(row.created_at),
        )
        for row in claimed
    ]


def settle(
    db: Database,
    settlements: list[Settlement],
    now: datetime | None = None,
    *,
    also: Sequence[Callable[[Connection], None]] = (),
) -> None:
    """Record what became of a batch; rows another worker has since settled are left alone.

    ``also`` writes in the same transaction, first: a handler's log of the batch, so that the
    log and the outcome are stored together or not at all.
    """
    if not settlements:
        return
    now = now or utcnow()
    delivered = [(d.account_id, d.event_id) for d in settlements if d.status == DELIVERED]
    with db.write() as connection:
        for write in also:
            write(connection)
        if delivered:  # the common case, in one statement
            connection.execute(
                update(outbox_events)
                .where(
                    pairs_in(
                        connection, outbox_events.c.account_id, outbox_events.c.event_id, delivered
                    ),
                    outbox_events.c.status == DELIVERING,
                )
                .values(status=DELIVERED, delivered_at=now, next_attempt_at=None, last_error=None)
            )
        for done in settlements:
            if done.status == DELIVERED:
                continue
            values: dict[str, Any] = {"status": done.status, "last_error": done.error}
            if done.status == PENDING:
                values["next_attempt_at"] = done.retry_at
            else:
                values["next_attempt_at"] = None
            connection.execute(
                update(outbox_events)
                .where(_key(done.account_id, done.event_id), outbox_events.c.status == DELIVERING)
                .values(**values)
            )


def release(db: Database, events: Sequence[OutboxEvent]) -> None:
    """Claimed events that were never sent (the worker's store failed before it could send
    them) go back to pending, due now, with the attempt their claim counted taken back: they
    need not wait for their lease to run out. Rows no longer ``delivering`` are left alone."""
    if not events:
        return
    keys = [(event.account_id, event.event_id) for event in events]
    with db.write() as connection:
        connection.execute(
            update(outbox_events)
            .where(
                pairs_in(connection, outbox_events.c.account_id, outbox_events.c.event_id, keys),
                outbox_events.c.status == DELIVERING,
            )
            .values(
                status=PENDING,
                next_attempt_at=None,
                attempts=case(
                    (outbox_events.c.attempts > 0, outbox_events.c.attempts - 1), else_=0
                ),
            )
        )


def _row(row: Any) -> OutboxRow:
    return OutboxRow(
        account_id=row.account_id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=as_utc(row.next_attempt_at) if row.next_attempt_at else None,
        last_error=row.last_error,
        created_at=as_utc(row.created_at),
        delivered_at=as_utc(row.delivered_at) if row.delivered_at else None,
    )


def list_events(
    db: Database,
    *,
    status: str | None = None,
    account_id: str | None = None,
    limit: int = 50,
) -> list[OutboxRow]:
    """Newest first, for operators."""
    query = select(outbox_events).order_by(outbox_events.c.created_at.desc()).limit(limit)
    if status is not None:
        query = query.where(outbox_events.c.status == status)
    if account_id is not None:
        query = query.where(outbox_events.c.account_id == account_id)
    with db.read() as connection:
        return [_row(row) for row in connection.execute(query)]


def counts(db: Database) -> dict[str, int]:
    with db.read() as connection:
        rows = connection.execute(
            select(outbox_events.c.status, func.count()).group_by(outbox_events.c.status)
        ).all()
    return {str(status): int(count) for status, count in rows}


def retry_dead(
    db: Database, *, event_ids: list[str] | None = None, account_id: str | None = None
) -> list[tuple[str, str]]:
    """Dead events (all, or those named) go back to pending with their attempts reset."""
    query = select(outbox_events.c.account_id, outbox_events.c.event_id).where(
        outbox_events.c.status == DEAD
    )
    if event_ids:
        query = query.where(outbox_events.c.event_id.in_(event_ids))
    if account_id is not None:
        query = query.where(outbox_events.c.account_id == account_id)
    with db.write() as connection:
        keys = [(row.account_id, row.event_id) for row in connection.execute(query)]
        if keys:
            connection.execute(
                update(outbox_events)
                .where(tuple_(outbox_events.c.account_id, outbox_events.c.event_id).in_(keys))
                .values(status=PENDING, attempts=0, next_attempt_at=None, last_error=None)
            )
    return keys


def purge(db: Database, *, status: str, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete delivered (or dead) events older than the given age; returns how many."""
    if status not in (DELIVERED, DEAD):
        raise ValueError("only delivered or dead events can be purged")
    cutoff = (now or utcnow()) - older_than
    with db.write() as connection:
        result = connection.execute(
            delete(outbox_events).where(
                outbox_events.c.status == status, outbox_events.c.created_at < cutoff
            )
        )
    return result.rowcount


def gauges(db: Database, now: datetime | None = None) -> tuple[dict[str, int], float | None]:
    """For metrics: unsettled and dead events by status (read from their partial indexes;
    delivered rows are not counted, that would read the whole table), and how many seconds
    the oldest event due for delivery has waited (None: nothing is due)."""
    now = now or utcnow()
    unsettled = outbox_events.c.status.in_((PENDING, DELIVERING))
    due_since = func.coalesce(outbox_events.c.next_attempt_at, outbox_events.c.created_at)
    with db.read_latest() as connection:
        rows = connection.execute(
            select(outbox_events.c.status, func.count())
            .where(unsettled)
            .group_by(outbox_events.c.status)
        ).all()
        dead = connection.execute(
            select(func.count()).select_from(outbox_events).where(outbox_events.c.status == DEAD)
        ).scalar_one()
        oldest = connection.execute(
            select(func.min(due_since)).where(outbox_events.c.status == PENDING, due_since <= now)
        ).scalar_one()
    counts = {str(status): int(count) for status, count in rows}
    counts[DEAD] = int(dead)
    age = (now - as_utc(oldest)).total_seconds() if oldest is not None else None
    return counts, age
