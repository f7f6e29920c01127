"""Draining a tenant's outbox in tests without waiting out the retries' delays."""

from __future__ import annotations

from sqlalchemy import select, update

from patron.core.clock import as_utc, utcnow
from patron.core.db import Database
from patron.core.events import outbox_events
from patron.integrations.outbox.dispatcher import Dispatcher
from tests.support.tenants import Tenant


def drain_now(db: Database, tenant: Tenant, dispatcher: Dispatcher) -> list[float]:
    """Drain, bringing each retry forward instead of waiting for it; the waits it asked for."""
    waits: list[float] = []
    for _ in range(20):
        dispatcher.drain()
        with db.write() as connection:
            due = connection.execute(
                select(outbox_events.c.event_id, outbox_events.c.next_attempt_at).where(
                    outbox_events.c.account_id == tenant.uuid,
                    outbox_events.c.status == "pending",
                )
            ).all()
            if not due:
                return waits
            now = utcnow()
            waits.extend(
                max(0.0, (as_utc(row.next_attempt_at) - now).total_seconds()) for row in due
            )
            connection.execute(
                update(outbox_events)
                .where(
                    outbox_events.c.account_id == tenant.uuid, outbox_events.c.status == "pending"
                )
                .values(next_attempt_at=None)
            )
    raise AssertionError("the outbox did not drain")
