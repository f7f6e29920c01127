"""Which outbox events a webhook can subscribe to, and under what name."""

from __future__ import annotations

WEBHOOK_EVENT_FOR_OUTBOX = {
    "contact.created": "CONTACT_CREATED",
    "contact.updated": "CONTACT_UPDATED",
    "contact.deleted": "CONTACT_DELETED",
    "redemption_code.created": "REDEMPTION_CODE_CREATED",
    "redemption_code.redeemed": "REDEMPTION_CODE_REDEEMED",
    "wallet.credit_added": "WALLET_CREDIT_ADDED",
    "wallet.credit_spent": "WALLET_CREDIT_SPENT",
    "wallet.credit_removed": "WALLET_CREDIT_REMOVED",
    "wallet.credit_converted": "WALLET_CREDIT_CONVERTED",
}
WEBHOOK_EVENTS = tuple(WEBHOOK_EVENT_FOR_OUTBOX.values())


def webhook_event(outbox_event_type: str) -> str | None:
    return WEBHOOK_EVENT_FOR_OUTBOX.get(outbox_event_type)
