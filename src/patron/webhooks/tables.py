"""Webhook subscriptions and the log of their deliveries (one row per webhook and event)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from patron.core.db import metadata

webhooks = Table(
    "webhooks",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("uuid", String(36), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("events", JSON, nullable=False),
    # The signing key: never returned by the API after creation; sealed with
    # PATRON_SECRET_KEY when one is set (a sealed secret is about 180 characters).
    Column("secret", String(400), nullable=False),
    # After a rotation the old key also signs until then, so receivers can switch over.
    Column("previous_secret", String(400), nullable=True),
    Column("previous_secret_until", DateTime(timezone=True), nullable=True),
    Column("active", Boolean, nullable=False, server_default="1"),
    # The body's shape: PATRON (Patron's event names) or VALUEMAPPER (the seed vendor's).
    Column("format", String(20), nullable=False, server_default="PATRON"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_webhooks_account_id_created_at", "account_id", "created_at"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("webhook_uuid", String(36), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("event_type", String(60), nullable=False),
    # delivered | retrying | failed (given up for this webhook)
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("response_status", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("attempts >= 0", name="attempts"),
    ForeignKeyConstraint(
        ["account_id", "webhook_uuid"],
        ["webhooks.account_id", "webhooks.uuid"],
        ondelete="CASCADE",
    ),
    Index(
        "ix_webhook_deliveries_account_id_webhook_uuid_updated_at",
        "account_id",
        "webhook_uuid",
        "updated_at",
    ),
)
