"""Webhook subscriptions on the native API: admin scope to change them, read scope to list."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

import strawberry
from strawberry.types import Info

from patron.api.graphql.context import Context
from patron.api.graphql.errors import UserError, domain_errors_as
from patron.core.errors import InvalidInput
from patron.webhooks import service as webhook_service
from patron.webhooks.events import WebhookEvent
from patron.webhooks.models import (
    Delivery,
    DeliveryStatus,
    NewWebhook,
    WebhookChanges,
    WebhookWithLog,
)

MAX_GRACE_HOURS = 168


# The webhooks' enums, declared once in the webhooks domain, under the names this API gives them.
strawberry.enum(WebhookEvent, description="What a webhook can subscribe to.")
strawberry.enum(DeliveryStatus, name="WebhookDeliveryStatus")
WebhookDeliveryStatus = DeliveryStatus


@strawberry.type(description="One event sent (or being sent) to one webhook.")
class WebhookDelivery:
    event_id: str = strawberry.field(description="The webhook-id header; stable across retries.")
    event_type: WebhookEvent
    status: WebhookDeliveryStatus
    attempts: int
    response_status: int | None = strawberry.field(description="HTTP status of the last try.")
    latency_ms: int | None = strawberry.field(description="Duration of the last try.")
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


@strawberry.type
class WebhookDeliveryStats:
    delivered: int
    retrying: int
    failed: int
    error_rate: float = strawberry.field(description="Failed over finished deliveries, 0 to 1.")


@strawberry.enum(description="The body a webhook receives.")
class WebhookFormat(StrEnum):
    PATRON = "PATRON"
    VALUEMAPPER = "VALUEMAPPER"


@strawberry.type(description="A subscription: signed POSTs of the chosen events to a URL.")
class Webhook:
    uuid: str
    url: str
    events: list[WebhookEvent]
    active: bool
    format: WebhookFormat = strawberry.field(
        description="PATRON: type is the event's name (CONTACT_CREATED); VALUEMAPPER: the seed "
        "vendor's envelope, id evt_…, type contact.created."
    )
    created_at: datetime
    updated_at: datetime
    delivery_stats: WebhookDeliveryStats
    deliveries: list[WebhookDelivery] = strawberry.field(
        description=f"The latest {webhook_service.LOG_LENGTH}, newest first."
    )

    @classmethod
    def of(cls, found: WebhookWithLog) -> Webhook:
        webhook, stats = found.webhook, found.stats
        return cls(
            uuid=webhook.uuid,
            url=webhook.url,
            events=[WebhookEvent[name] for name in webhook.events],
            active=webhook.active,
            format=WebhookFormat(webhook.format),
            created_at=webhook.created_at,
            updated_at=webhook.updated_at,
            delivery_stats=WebhookDeliveryStats(
                delivered=stats.delivered,
                retrying=stats.retrying,
                failed=stats.failed,
                error_rate=stats.error_rate,
            ),
            deliveries=[_delivery_of(delivery) for delivery in found.deliveries],
        )


def _delivery_of(delivery: Delivery) -> WebhookDelivery:
    return WebhookDelivery(
        event_id=delivery.event_id,
        event_type=WebhookEvent[delivery.event_type],
        status=WebhookDeliveryStatus(delivery.status),
        attempts=delivery.attempts,
        response_status=delivery.response_status,
        latency_ms=delivery.latency_ms,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
        delivered_at=delivery.delivered_at,
    )


def account_webhook_deliveries(
    info: Info[Context, None],
    webhook_uuid: str,
    limit: int | None = None,
    event_type: WebhookEvent | None = None,
    success: bool | None = None,
) -> list[WebhookDelivery]:
    context = info.context
    found = webhook_service.webhook_deliveries(
        context.connection(),
        context.principal,
        webhook_uuid,
        limit=limit,
        event_type=event_type.value if event_type is not None else None,
        success=success,
    )
    return [_delivery_of(delivery) for delivery in found]


def account_webhook_error_rate(
    info: Info[Context, None], webhook_uuid: str, window_hours: int = 24
) -> float:
    context = info.context
    return webhook_service.webhook_error_rate(
        context.connection(), context.principal, webhook_uuid, window_hours
    )


def account_webhooks(info: Info[Context, None]) -> list[Webhook]:
    context = info.context
    return [
        Webhook.of(found)
        for found in webhook_service.list_webhooks(context.connection(), context.principal)
    ]


@strawberry.input
class WebhookInput:
    url: str
    events: list[WebhookEvent]
    secret: str | None = strawberry.field(
        default=None, description="A whsec_ secret; one is generated when none is given."
    )
    active: bool = True
    format: WebhookFormat = WebhookFormat.PATRON


@strawberry.input(description="Only the fields given change.")
class UpdateWebhookInput:
    url: str | None = None
    events: list[WebhookEvent] | None = None
    secret: str | None = None
    active: bool | None = None
    format: WebhookFormat | None = None


@strawberry.type
class CreateWebhookResponse:
    success: bool
    webhook: Webhook | None = None
    secret: str | None = strawberry.field(
        default=None, description="The signing secret: shown this once, never again."
    )
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookOperationResponse:
    success: bool
    webhook: Webhook | None = None
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _fresh(webhook: webhook_service.Webhook) -> Webhook:
    return Webhook.of(WebhookWithLog(webhook, webhook_service.DeliveryStats(), ()))


@domain_errors_as(CreateWebhookResponse)
def create_webhook(info: Info[Context, None], webhook: WebhookInput) -> CreateWebhookResponse:
    """Admin scope."""
    context = info.context
    command = NewWebhook(
        url=webhook.url,
        events=[event.value for event in webhook.events],
        secret=webhook.secret,
        active=webhook.active,
        format=webhook.format.value,
    )
    created = webhook_service.create_webhook(
        context.db, context.principal, command, context.webhook_urls, context.secret_key
    )
    return CreateWebhookResponse(
        success=True, webhook=_fresh(created.webhook), secret=created.secret
    )


@domain_errors_as(WebhookOperationResponse)
def update_webhook(
    info: Info[Context, None], uuid: str, webhook: UpdateWebhookInput
) -> WebhookOperationResponse:
    """Admin scope."""
    context = info.context
    changes = WebhookChanges(
        url=webhook.url,
        events=[event.value for event in webhook.events] if webhook.events is not None else None,
        secret=webhook.secret,
        active=webhook.active,
        format=webhook.format.value if webhook.format is not None else None,
    )
    updated = webhook_service.update_webhook(
        context.db, context.principal, uuid, changes, context.webhook_urls, context.secret_key
    )
    return WebhookOperationResponse(success=True, webhook=_fresh(updated))


@strawberry.type
class RotateWebhookSecretResponse:
    success: bool
    webhook: Webhook | None = None
    secret: str | None = strawberry.field(
        default=None, description="The new signing secret: shown this once, never again."
    )
    previous_secret_valid_until: datetime | None = strawberry.field(
        default=None,
        description="Until when the old secret also signs each delivery; null: not at all.",
    )
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@domain_errors_as(RotateWebhookSecretResponse)
def rotate_webhook_secret(
    info: Info[Context, None],
    uuid: str,
    grace_hours: int = 24,
    secret: str | None = None,
) -> RotateWebhookSecretResponse:
    """Admin scope. A new secret; the old one signs beside it for graceHours (0 to 168)."""
    context = info.context
    if not 0 <= grace_hours <= MAX_GRACE_HOURS:
        raise InvalidInput(
            f"graceHours must be 0 to {MAX_GRACE_HOURS}, got {grace_hours}", field="graceHours"
        )
    rotated = webhook_service.rotate_secret(
        context.db,
        context.principal,
        uuid,
        timedelta(hours=grace_hours),
        secret,
        context.secret_key,
    )
    return RotateWebhookSecretResponse(
        success=True,
        webhook=_fresh(rotated.webhook),
        secret=rotated.secret,
        previous_secret_valid_until=rotated.previous_valid_until,
    )


@domain_errors_as(WebhookOperationResponse)
def delete_webhook(info: Info[Context, None], uuid: str) -> WebhookOperationResponse:
    """Admin scope."""
    context = info.context
    webhook_service.delete_webhook(context.db, context.principal, uuid)
    return WebhookOperationResponse(success=True)
