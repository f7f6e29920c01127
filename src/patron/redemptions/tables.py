from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
    UniqueConstraint,
)

from patron.core.db import metadata

redemptions = Table(
    "redemptions",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("uuid", String(36), primary_key=True),
    Column("code", String(32), nullable=False),
    Column("customer_uuid", String(36), nullable=False),
    Column("wallet_uuid", String(36), nullable=False),
    Column("credit_type", String(10), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),
    Column("source", String(20), nullable=False, server_default="MANUAL"),
    Column("note", String(500), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("redeemed_at", DateTime(timezone=True), nullable=True),
    Column("released_at", DateTime(timezone=True), nullable=True),
    Column("release_reason", String(30), nullable=True),
    Column("spend_entry_uuid", String(36), nullable=True),
    Column("promotion_uuid", String(36), nullable=True),
    # NULL only on rows older than the column: a credit code of ``credit_type``.
    Column("redemption_type", String(40), nullable=True),
    Column("delivery_method", String(10), nullable=True),
    Column("recipient_name", String(200), nullable=True),
    Column("recipient_email", String(254), nullable=True),
    Column("recipient_phone", String(20), nullable=True),
    Column("recipient_external_id", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(
        ["account_id", "wallet_uuid"], ["wallets.account_id", "wallets.uuid"], ondelete="CASCADE"
    ),
    UniqueConstraint("account_id", "code"),
    CheckConstraint(
        "amount > 0 OR (amount = 0 AND redemption_type IN ('FREE_PRODUCT', 'FREE_SHIPPING'))",
        name="amount",
    ),
    CheckConstraint("status IN ('ACTIVE', 'REDEEMED', 'CANCELLED', 'EXPIRED')", name="status"),
    Index(
        "ix_redemptions_account_id_wallet_uuid_created_at",
        "account_id",
        "wallet_uuid",
        "created_at",
    ),
    Index("ix_redemptions_account_id_status_expires_at", "account_id", "status", "expires_at"),
)
