"""Consumer credentials beside the customer: profile extras, refresh tokens, login failures."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
)

from patron.core.db import metadata

# What the loyalty app knows of a person beyond the customer profile. No row: all defaults.
consumer_profiles = Table(
    "consumer_profiles",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("customer_uuid", String(36), primary_key=True),
    Column("merchant_type", String(30), nullable=True),
    # The merchant user (a customer of type MERCHANT) who signed this one up, if any.
    Column("creator_uuid", String(36), nullable=True),
    Column("logo", String(2000), nullable=True),
    Column("order_discounts_allowed", Integer, nullable=False, server_default="0"),
    Column("staff", Boolean, nullable=False, server_default="0"),
    Column("admin", Boolean, nullable=False, server_default="0"),
    Column("last_login_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(
        ["account_id", "customer_uuid"],
        ["customers.account_id", "customers.uuid"],
        ondelete="CASCADE",
    ),
    CheckConstraint(
        "order_discounts_allowed >= 0 AND order_discounts_allowed <= 1000000",
        name="order_discounts_allowed",
    ),
)

# Opaque refresh tokens, stored as SHA-256. Each refresh rotates the token within its family;
# presenting a rotated one again revokes the whole family (it was stolen or replayed).
consumer_refresh_tokens = Table(
    "consumer_refresh_tokens",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("uuid", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False),
    Column("family_uuid", String(36), nullable=False),
    Column("customer_uuid", String(36), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("rotated_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    ForeignKeyConstraint(
        ["account_id", "customer_uuid"],
        ["customers.account_id", "customers.uuid"],
        ondelete="CASCADE",
    ),
    # The one lookup made before the account is known: by the hash of the presented token.
    Index("ix_consumer_refresh_tokens_token_hash", "token_hash", unique=True),
    Index("ix_consumer_refresh_tokens_account_id_family_uuid", "account_id", "family_uuid"),
    Index("ix_consumer_refresh_tokens_account_id_customer_uuid", "account_id", "customer_uuid"),
)

# Failed logins per subject ("email:<sha256>" or "address:<client address>") of an account.
consumer_login_failures = Table(
    "consumer_login_failures",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("subject", String(80), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("first_failed_at", DateTime(timezone=True), nullable=False),
    Column("blocked_until", DateTime(timezone=True), nullable=True),
    CheckConstraint("failures >= 0", name="failures"),
)

# Development only (no PATRON_JWT_SECRET): a random signing key per account, made on first use.
consumer_signing_keys = Table(
    "consumer_signing_keys",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("secret", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
