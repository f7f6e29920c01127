"""A receiver's requested wait (Retry-After, a throttle's restore time) delays the retry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

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
from patron.integrations.waits import retry_after
from tests.support.receiver import running_receiver
from tests.support.tenants import Tenant, make_contact
from tests.support.webhooks import make_webhook, outbox_states, tenant_dispatcher


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


# --- a webhook receiver's Retry-After ------------------------------------------------------


def _webhook_retry(
    db: Database, tenant: Tenant, status: int, headers: dict[str, str]
) -> tuple[float, str | None]:
    """One delivery to a receiver answering ``status`` with ``headers``: the wait before the
    retry, in seconds, and the event's last error."""
    with running_receiver(statuses=(status,), headers=headers) as receiver:
        make_webhook(db, tenant, receiver.url, ["CONTACT_CREATED"])
        make_contact(db, tenant)
        before = utcnow()
        with tenant_dispatcher(db, tenant, max_attempts=5) as dispatcher:
            dispatcher.run_once()
    [(state, attempts, error)] = outbox_states(db, tenant).values()
    assert (state, attempts) == ("pending", 1)
    return (_next_attempt(db, tenant) - before).total_seconds(), error


def test_a_429_with_retry_after_in_seconds_waits_that_long(db: Database, tenant: Tenant) -> None:
    waited, error = _webhook_retry(db, tenant, 429, {"Retry-After": "120"})

    assert 119 <= waited <= 130
    assert error is not None
    assert "HTTP 429" in error


def test_a_503_with_retry_after_as_an_http_date_waits_until_then(
    db: Database, tenant: Tenant
) -> None:
    until = format_datetime(utcnow() + timedelta(seconds=300), usegmt=True)

    waited, _ = _webhook_retry(db, tenant, 503, {"Retry-After": until})

    assert 297 <= waited <= 310


def test_a_retry_after_on_a_500_or_one_that_is_not_a_wait_follows_the_back_off(
    db: Database, tenant: Tenant
) -> None:
    waited, _ = _webhook_retry(db, tenant, 500, {"Retry-After": "120"})
    assert waited < 5


def test_a_retry_after_that_is_neither_seconds_nor_a_date_follows_the_back_off(
    db: Database, tenant: Tenant
) -> None:
    waited, _ = _webhook_retry(db, tenant, 429, {"Retry-After": "soon"})
    assert waited < 5


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()

    assert retry_after("120", now) == 120.0
    assert retry_after(" 7 ", now) == 7.0
    assert retry_after("Mon, 23 Nov 2026 12:05:00 GMT", now) == 300.0
    assert retry_after("Mon, 23 Nov 2026 11:00:00 GMT", now) == 0.0  # already past: no wait
    assert retry_after("-5", now) is None
    assert retry_after("1.5", now) is None
    assert retry_after("soon", now) is None
    assert retry_after("", now) is None
