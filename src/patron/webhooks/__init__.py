"""Webhook subscriptions per account, their delivery log, and the Standard Webhooks signature."""
