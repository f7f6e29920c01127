"""Which outbox events a webhook can subscribe to, and under what name."""

from __future__ import annotations

from enum import StrEnum


class WebhookEvent(StrEnum):
    """What a webhook can subscribe to."""

    CONTACT_CREATED = "CONTACT_CREATED"
    CONTACT_UPDATED = "CONTACT_UPDATED"
    CONTACT_DELETED = "CONTACT_DELETED"
    CONTACT_ERASED = "CONTACT_ERASED"
    REDEMPTION_CODE_CREATED = "REDEMPTION_CODE_CREATED"
    REDEMPTION_CODE_REDEEMED = "REDEMPTION_CODE_REDEEMED"
    WALLET_CREDIT_ADDED = "WALLET_CREDIT_ADDED"
    WALLET_CREDIT_SPENT = "WALLET_CREDIT_SPENT"
    WALLET_CREDIT_REMOVED = "WALLET_CREDIT_REMOVED"
    WALLET_CREDIT_CONVERTED = "WALLET_CREDIT_CONVERTED"


WEBHOOK_EVENT_FOR_OUTBOX = {
    "contact.created": WebhookEvent.CONTACT_CREATED.value,
    "contact.updated": WebhookEvent.CONTACT_UPDATED.value,
    "contact.deleted": WebhookEvent.CONTACT_DELETED.value,
    "contact.erased": WebhookEvent.CONTACT_ERASED.value,
    "redemption_code.created": WebhookEvent.REDEMPTION_CODE_CREATED.value,
    "redemption_code.redeemed": WebhookEvent.REDEMPTION_CODE_REDEEMED.value,
    "wallet.credit_added": WebhookEvent.WALLET_CREDIT_ADDED.value,
    "wallet.credit_spent": WebhookEvent.WALLET_CREDIT_SPENT.value,
    "wallet.credit_removed": WebhookEvent.WALLET_CREDIT_REMOVED.value,
    "wallet.credit_converted": WebhookEvent.WALLET_CREDIT_CONVERTED.value,
}
WEBHOOK_EVENTS = tuple(event.value for event in WebhookEvent)


def webhook_event(outbox_event_type: str) -> str | None:
    return WEBHOOK_EVENT_FOR_OUTBOX.get(outbox_event_type)
