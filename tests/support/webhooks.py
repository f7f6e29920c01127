"""Builders for webhooks and a dispatcher aimed at one tenant, for tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import select

from patron.core.db import Database
from patron.core.events import outbox_events
from patron.integrations.outbox.dispatcher import Dispatcher, RetryPolicy
from patron.integrations.webhooks.sender import Resolver, WebhookSender, resolve
from patron.webhooks import service as webhooks
from patron.webhooks.addresses import UrlPolicy, is_public
from patron.webhooks.models import CreatedWebhook, NewWebhook
from tests.support.tenants import Tenant

LOCAL = UrlPolicy(require_https=False, allow_private=True)


def make_webhook(
    db: Database, tenant: Tenant, url: str, events: list[str], secret: str | None = None
) -> CreatedWebhook:
    return webhooks.create_webhook(
        db, tenant.principal, NewWebhook(url=url, events=events, secret=secret), LOCAL
    )


@contextmanager
def tenant_dispatcher(
    db: Database,
    tenant: Tenant,
    *,
    max_attempts: int = 3,
    timeout: float = 2.0,
    policy: UrlPolicy = LOCAL,
    resolver: Resolver = resolve,
    allowed: Callable[[str], bool] = is_public,
) -> Iterator[Dispatcher]:
    """Retries at once (no back-off) and only this tenant's events, so tests stay fast."""
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        dispatcher = Dispatcher(
            db,
            [WebhookSender(db, client, policy, resolver=resolver, allowed_address=allowed)],
            policy=RetryPolicy(max_attempts=max_attempts, base_seconds=0.0),
            account_id=tenant.uuid,
        )
        try:
            yield dispatcher
        finally:
            dispatcher.close()


def outbox_states(db: Database, tenant: Tenant) -> dict[str, tuple[str, int, str | None]]:
    """event type -> (status, attempts, last error), for a tenant with one event per type."""
    with db.read() as connection:
        rows = connection.execute(
            select(
                outbox_events.c.event_type,
                outbox_events.c.status,
                outbox_events.c.attempts,
                outbox_events.c.last_error,
            ).where(outbox_events.c.account_id == tenant.uuid)
        ).all()
    return {row.event_type: (row.status, row.attempts, row.last_error) for row in rows}
