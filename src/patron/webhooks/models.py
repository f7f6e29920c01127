"""What the webhooks service takes and returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class DeliveryStatus(StrEnum):
    """Where the delivery of one event to one webhook stands; stored as the value."""

    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class NewWebhook:
    url: str
    events: list[str]
    secret: str | None = None
    active: bool = True
    format: str = "PATRON"


@dataclass(frozen=True, slots=True)
class WebhookChanges:
    """None leaves a field as it is."""

    url: str | None = None
    events: list[str] | None = None
    secret: str | None = None
    active: bool | None = None
    format: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    webhook_uuid: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    response_status: int | None
    latency_ms: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def error_rate(self) -> float:
        """Failed deliveries over finished ones (delivered or failed); 0 when there are none."""
        finished = self.delivered + self.failed
        return self.failed / finished if finished else 0.0


@dataclass(frozen=True, slots=True)
class Webhook:
    uuid: str
    url: str
    events: tuple[str, ...]
    active: bool
    created_at: datetime
    updated_at: datetime
    format: str = "PATRON"


@dataclass(frozen=True, slots=True)
class WebhookWithLog:
    webhook: Webhook
    stats: DeliveryStats
    deliveries: tuple[Delivery, ...]


@dataclass(frozen=True, slots=True)
class CreatedWebhook:
    webhook: Webhook
    secret: str


@dataclass(frozen=True, slots=True)
class RotatedSecret:
    webhook: Webhook
    secret: str
    previous_valid_until: datetime | None  # None: the old secret stopped at once


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """What the dispatcher needs to send one event to one webhook."""

    uuid: str
    url: str
    secret: str
    previous_secret: str | None = None  # still signing, during a rotation's grace
    format: str = "PATRON"  # the body's shape: PATRON or VALUEMAPPER


@dataclass(frozen=True, slots=True)
class Subscription:
    target: WebhookTarget
    events: frozenset[str]


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    webhook_uuid: str
    status: str  # a DeliveryStatus value
    response_status: int | None
    latency_ms: int | None
    error: str | None
