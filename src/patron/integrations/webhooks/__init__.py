"""Sending outbox events to the accounts' webhook subscriptions."""
