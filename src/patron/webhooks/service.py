"""Webhook subscriptions (admin scope to change, read scope to list) and their delivery log."""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from patron.accounts.principal import Principal
from patron.core.clock import as_utc, utcnow
from patron.core.db import Database
from patron.core.errors import DomainError, InvalidInput, NotFound, ValidationErrors
from patron.core.events import record_audit
from patron.core.ids import is_uuid
from patron.core.sealing import seal, unseal
from patron.webhooks import repository, signing
from patron.webhooks.addresses import UrlPolicy, check_url
from patron.webhooks.events import WEBHOOK_EVENTS
from patron.webhooks.models import (
    CreatedWebhook,
    Delivery,
    DeliveryResult,
    DeliveryStats,
    NewWebhook,
    RotatedSecret,
    Subscription,
    Webhook,
    WebhookChanges,
    WebhookTarget,
    WebhookWithLog,
)

__all__ = ["WEBHOOK_EVENTS", "DeliveryStats", "Webhook"]

MAX_WEBHOOKS_PER_ACCOUNT = 20
MAX_ROTATION_GRACE = timedelta(days=7)
LOG_LENGTH = 50


def _clean_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    unknown = [name for name in chosen if name not in WEBHOOK_EVENTS]
    if unknown:
        raise InvalidInput(f"unknown webhook events: {', '.join(unknown)}", field="events")
    if not chosen:
        raise InvalidInput("a webhook subscribes to at least one event", field="events")
    return chosen


FORMATS = ("PATRON", "VALUEMAPPER")


def _format(value: str) -> str:
    if value not in FORMATS:
        raise InvalidInput(
            f"format must be one of {', '.join(FORMATS)}, got '{value}'", field="format"
        )
    return value


def _validated(
    url: str | None, events: list[str] | None, secret: str | None, policy: UrlPolicy
) -> tuple[str | None, list[str] | None]:
    """The cleaned URL and events; every problem found is reported at once."""
    problems: list[DomainError] = []
    cleaned_url: str | None = None
    cleaned_events: list[str] | None = None
    try:
        cleaned_url = check_url(url, policy) if url is not None else None
    except InvalidInput as problem:
        problems.append(problem)
    try:
        cleaned_events = _clean_events(events) if events is not None else None
    except InvalidInput as problem:
        problems.append(problem)
    try:
        if secret is not None:
            signing.secret_key(secret)
    except InvalidInput as problem:
        problems.append(problem)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ValidationErrors(problems)
    return cleaned_url, cleaned_events


def _webhook(row: Any) -> Webhook:
    return Webhook(
        uuid=row.uuid,
        url=row.url,
        events=tuple(row.events),
        active=bool(row.active),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        format=str(row.format),
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        webhook_uuid=row.webhook_uuid,
        event_id=row.event_id,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        response_status=row.response_status,
        latency_ms=row.latency_ms,
        last_error=row.last_error,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        delivered_at=as_utc(row.delivered_at) if row.delivered_at else None,
    )


def _owned(connection: Connection, account_id: str, webhook_uuid: str) -> Any:
    if not is_uuid(webhook_uuid):
        raise NotFound(f"no webhook with uuid '{webhook_uuid}'", field="uuid")
    row = repository.get_webhook(connection, account_id, webhook_uuid)
    if row is None:
        raise NotFound(f"no webhook with uuid '{webhook_uuid}'", field="uuid")
    return row


def create_webhook(
    db: Database,
    principal: Principal,
    command: NewWebhook,
    policy: UrlPolicy,
    secret_key: str | None = None,
) -> CreatedWebhook:
    """A subscription; the secret (given or generated) is returned this once only, and kept
    sealed with ``secret_key`` when there is one."""
    principal.require("admin")
    url, events = _validated(command.url, command.events, command.secret, policy)
    body_format = _format(command.format)
    assert url is not None
    assert events is not None
    secret = command.secret or signing.new_secret()
    now = utcnow()
    webhook_uuid = str(uuid_module.uuid4())
    with db.write() as connection:
        count = repository.count_webhooks(connection, principal.account_id)
        if count >= MAX_WEBHOOKS_PER_ACCOUNT:
            raise InvalidInput(
                f"an account has at most {MAX_WEBHOOKS_PER_ACCOUNT} webhooks", field="url"
            )
        repository.insert_webhook(
            connection,
            {
                "account_id": principal.account_id,
                "uuid": webhook_uuid,
                "url": url,
                "events": events,
                "secret": seal(secret, secret_key),
                "active": command.active,
                "format": body_format,
                "created_at": now,
                "updated_at": now,
            },
        )
        record_audit(
            connection,
            principal.account_id,
            action="webhook.created",
            subject_type="webhook",
            subject_uuid=webhook_uuid,
            actor=principal.actor,
            actor_name=principal.actor_name,
        )
        row = _owned(connection, principal.account_id, webhook_uuid)
    return CreatedWebhook(_webhook(row), secret)


def update_webhook(
    db: Database,
    principal: Principal,
    webhook_uuid: str,
    changes: WebhookChanges,
    policy: UrlPolicy,
    secret_key: str | None = None,
) -> Webhook:
    principal.require("admin")
    url, events = _validated(changes.url, changes.events, changes.secret, policy)
    values: dict[str, Any] = {"updated_at": utcnow()}
    if url is not None:
        values["url"] = url
    if events is not None:
        values["events"] = events
    if changes.secret is not None:  # a switch at once: no old secret signs beside it
        values.update(
            secret=seal(changes.secret, secret_key),
            previous_secret=None,
            previous_secret_until=None,
        )
    if changes.active is not None:
        values["active"] = changes.active
    if changes.format is not None:
        values["format"] = _format(changes.format)
    with db.write() as connection:
        _owned(connection, principal.account_id, webhook_uuid)
        repository.update_webhook(connection, principal.account_id, webhook_uuid, values)
        record_audit(
            connection,
            principal.account_id,
            action="webhook.updated",
            subject_type="webhook",
            subject_uuid=webhook_uuid,
            actor=principal.actor,
            actor_name=principal.actor_name,
            details={"changed": sorted(set(values) - {"updated_at"})},
        )
        row = _owned(connection, principal.account_id, webhook_uuid)
    return _webhook(row)


def rotate_secret(
    db: Database,
    principal: Principal,
    webhook_uuid: str,
    grace: timedelta,
    secret: str | None = None,
    secret_key: str | None = None,
) -> RotatedSecret:
    """A new signing secret (given or generated, returned this once); the current one keeps
    signing beside it for ``grace`` (0 to 7 days), so receivers can take the new one first."""
    principal.require("admin")
    if not timedelta(0) <= grace <= MAX_ROTATION_GRACE:
        raise InvalidInput(
            f"the grace must be 0 to {MAX_ROTATION_GRACE.days * 24} hours", field="graceHours"
        )
    if secret is not None:
        signing.secret_key(secret)  # refuses what is not a whsec_ secret
    new = secret or signing.new_secret()
    now = utcnow()
    until = now + grace if grace else None
    with db.write() as connection:
        current = _owned(connection, principal.account_id, webhook_uuid)
        if new == unseal(current.secret, secret_key):
            raise InvalidInput("the new secret must differ from the current one", field="secret")
        repository.update_webhook(
            connection,
            principal.account_id,
            webhook_uuid,
            {
                "secret": seal(new, secret_key),
                "previous_secret": current.secret if until else None,
                "previous_secret_until": until,
                "updated_at": now,
            },
        )
        record_audit(
            connection,
            principal.account_id,
            action="webhook.secret_rotated",
            subject_type="webhook",
            subject_uuid=webhook_uuid,
            actor=principal.actor,
            actor_name=principal.actor_name,
            details={"grace_seconds": int(grace.total_seconds())},
        )
        row = _owned(connection, principal.account_id, webhook_uuid)
    return RotatedSecret(_webhook(row), new, until)


def delete_webhook(db: Database, principal: Principal, webhook_uuid: str) -> None:
    principal.require("admin")
    with db.write() as connection:
        _owned(connection, principal.account_id, webhook_uuid)
        repository.delete_webhook(connection, principal.account_id, webhook_uuid)
        record_audit(
            connection,
            principal.account_id,
            action="webhook.deleted",
            subject_type="webhook",
            subject_uuid=webhook_uuid,
            actor=principal.actor,
            actor_name=principal.actor_name,
        )


def list_webhooks(connection: Connection, principal: Principal) -> list[WebhookWithLog]:
    """Oldest first, each with its counts and latest deliveries: three statements in all."""
    if principal.customer_uuid is not None:  # a consumer's own token sees no account settings
        return []
    account_id = principal.account_id
    rows = repository.list_webhooks(connection, account_id)
    if not rows:
        return []
    counts = repository.delivery_counts(connection, account_id)
    latest: dict[str, list[Delivery]] = {}
    for row in repository.latest_deliveries(connection, account_id, LOG_LENGTH):
        latest.setdefault(row.webhook_uuid, []).append(_delivery(row))
    found = []
    for row in rows:
        per_status = counts.get(row.uuid, {})
        stats = DeliveryStats(
            delivered=per_status.get("delivered", 0),
            retrying=per_status.get("retrying", 0),
            failed=per_status.get("failed", 0),
        )
        found.append(WebhookWithLog(_webhook(row), stats, tuple(latest.get(row.uuid, ()))))
    return found


# --- for the dispatcher: no principal, it acts for the account an event belongs to ----------


def subscriptions(
    db: Database, account_id: str, secret_key: str | None = None
) -> list[Subscription]:
    """The account's active webhooks with their secrets (a rotated-out one while it is still
    in its grace), opened with ``secret_key``, for the dispatcher (CannotUnseal when a secret
    was sealed with another key)."""
    with db.read() as connection:
        rows = repository.active_webhooks(connection, account_id)
    now = utcnow()
    return [
        Subscription(
            WebhookTarget(
                row.uuid,
                row.url,
                unseal(row.secret, secret_key),
                unseal(row.previous_secret, secret_key)
                if row.previous_secret is not None
                and row.previous_secret_until is not None
                and as_utc(row.previous_secret_until) > now
                else None,
                str(row.format),
            ),
            frozenset(row.events),
        )
        for row in rows
    ]


def finished_deliveries(
    db: Database, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], set[str]]:
    """Per (account, event): webhooks that already had it, delivered or given up."""
    found: dict[tuple[str, str], set[str]] = {key: set() for key in keys}
    if not keys:
        return found
    with db.read() as connection:
        for row in repository.finished_deliveries(connection, keys):
            found[(row.account_id, row.event_id)].add(row.webhook_uuid)
    return found


@dataclass(frozen=True, slots=True)
class Attempt:
    """The results of sending one event to its webhooks, for the delivery log."""

    account_id: str
    event_id: str
    event_type: str
    results: list[DeliveryResult]


def record_results(db: Database, attempts: list[Attempt], now: datetime | None = None) -> None:
    """One log line per webhook and event, its attempts counted; deleted webhooks are skipped.

    A batch's attempts are written in one transaction.
    """
    if not attempts:
        return
    with db.write() as connection:
        record_results_in(connection, attempts, now)


def record_results_in(
    connection: Connection, attempts: list[Attempt], now: datetime | None = None
) -> None:
    """``record_results`` in the caller's transaction (the one that settles the batch)."""
    if not attempts:
        return
    now = now or utcnow()
    hooks = list({(a.account_id, result.webhook_uuid) for a in attempts for result in a.results})
    alive = repository.existing_webhooks(connection, hooks)
    rows = [
        {
            "account_id": attempt.account_id,
            "webhook_uuid": result.webhook_uuid,
            "event_id": attempt.event_id,
            "event_type": attempt.event_type,
            "status": result.status,
            "attempts": 1,
            "response_status": result.response_status,
            "latency_ms": result.latency_ms,
            "last_error": result.error,
            "created_at": now,
            "updated_at": now,
            "delivered_at": now if result.status == "delivered" else None,
        }
        for attempt in attempts
        for result in attempt.results
        if (attempt.account_id, result.webhook_uuid) in alive
    ]
    repository.log_deliveries(connection, rows)


def reopen_failed(db: Database, keys: list[tuple[str, str]]) -> None:
    """An operator retries events: webhooks that gave up on them get them again."""
    if not keys:
        return
    with db.write() as connection:
        repository.reopen_failed(connection, keys)


MAX_DELIVERIES = 250
MAX_WINDOW_HOURS = 24 * 90


def webhook_deliveries(
    connection: Connection,
    principal: Principal,
    webhook_uuid: str,
    *,
    limit: int | None = None,
    event_type: str | None = None,
    success: bool | None = None,
) -> list[Delivery]:
    """One webhook's delivery log, newest first: ``limit`` 1 to 250 (default 50); ``success``
    True keeps delivered ones, False failed and retrying ones. A uuid that names no webhook of
    the account has an empty log."""
    size = 50 if limit is None else limit
    if not 1 <= size <= MAX_DELIVERIES:
        raise InvalidInput(f"limit must be 1 to {MAX_DELIVERIES}, got {size}", field="limit")
    if principal.customer_uuid is not None or not is_uuid(webhook_uuid):
        return []  # a webhook of no one, or of another account, has no log here
    statuses = None if success is None else (["delivered"] if success else ["failed", "retrying"])
    rows = repository.webhook_deliveries_of(
        connection,
        principal.account_id,
        webhook_uuid,
        limit=size,
        event_type=event_type,
        statuses=statuses,
    )
    return [_delivery(row) for row in rows]


def webhook_error_rate(
    connection: Connection, principal: Principal, webhook_uuid: str, window_hours: int = 24
) -> float:
    """Failed over finished (delivered or failed) deliveries that finished in the last
    ``window_hours`` (1 to 2160); 0 when none did."""
    if not 1 <= window_hours <= MAX_WINDOW_HOURS:
        raise InvalidInput(
            f"windowHours must be 1 to {MAX_WINDOW_HOURS}, got {window_hours}",
            field="windowHours",
        )
    if principal.customer_uuid is not None or not is_uuid(webhook_uuid):
        return 0.0
    since = utcnow() - timedelta(hours=window_hours)
    counts = repository.status_counts_since(connection, principal.account_id, webhook_uuid, since)
    stats = DeliveryStats(
        delivered=counts.get("delivered", 0), retrying=0, failed=counts.get("failed", 0)
    )
    return stats.error_rate
