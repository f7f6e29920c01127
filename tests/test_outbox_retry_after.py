"""A receiver's requested wait (Retry-After, a throttle's restore time) delays the retry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from patron.core.clock import as_utc, utcnow
from patron.core.db import Database
from patron.core.events import outbox_events
from patron.integrations.outbox.dispatcher import (
    Delivered,
    Dispatcher,
    Outcome,
    Retry,
    RetryPolicy,
)
from patron.integrations.outbox.store import OutboxEvent
from tests.support.tenants import Tenant, make_contact


def _next_attempt(db: Database, tenant: Tenant) -> datetime:
    with db.read() as connection:
        value = connection.execute(
            select(outbox_events.c.next_attempt_at).where(outbox_events.c.account_id == tenant.uuid)
        ).scalar_one()
    return as_utc(value)


def _handler(outcome: Outcome) -> Callable[[OutboxEvent, bool], Outcome]:
    return lambda event, last: outcome


def _run(db: Database, tenant: Tenant, *outcomes: Outcome) -> None:
    handlers = [_handler(outcome) for outcome in outcomes]
    Dispatcher(
        db, handlers, policy=RetryPolicy(base_seconds=0.0), account_id=tenant.uuid
    ).run_once()


def test_a_retry_waits_at_least_what_the_receiver_asked_for(db: Database, tenant: Tenant) -> None:
    make_contact(db, tenant)
    before = utcnow()
    _run(db, tenant, Retry("HTTP 429", after=120))
    waited = (_next_attempt(db, tenant) - before).total_seconds()
    assert 119 <= waited <= 130


def test_of_two_handlers_asking_to_wait_the_longer_wait_wins(db: Database, tenant: Tenant) -> None:
    make_contact(db, tenant)
    before = utcnow()
    _run(db, tenant, Retry("throttled", after=30), Delivered(), Retry("HTTP 503", after=300))
    waited = (_next_attempt(db, tenant) - before).total_seconds()
    assert 299 <= waited <= 310


def test_a_retry_without_a_requested_wait_follows_the_back_off(
    db: Database, tenant: Tenant
) -> None:
    make_contact(db, tenant)
    before = utcnow()
    _run(db, tenant, Retry("HTTP 500"))
    assert (_next_attempt(db, tenant) - before).total_seconds() < 5


def test_an_absurd_requested_wait_is_capped(db: Database, tenant: Tenant) -> None:
    make_contact(db, tenant)
    before = utcnow()
    _run(db, tenant, Retry("HTTP 429", after=10**9))
    waited = (_next_attempt(db, tenant) - before).total_seconds()
    assert waited <= RetryPolicy().cap_seconds + 5
