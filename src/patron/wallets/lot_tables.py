"""Expiring credit by lot: what an ADD with ``expires_at`` leaves, and who drew on it."""

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
)

from patron.core.db import metadata

credit_lots = Table(
    "credit_lots",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("uuid", String(36), primary_key=True),
    Column("wallet_uuid", String(36), nullable=False),
    Column("credit_type", String(10), nullable=False),
    Column("entry_uuid", String(36), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("expiry_entry_uuid", String(36), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(
        ["account_id", "wallet_uuid"], ["wallets.account_id", "wallets.uuid"], ondelete="CASCADE"
    ),
    CheckConstraint("amount > 0", name="amount"),
    CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining"),
    Index(
        "ix_credit_lots_account_id_wallet_uuid_expires_at",
        "account_id",
        "wallet_uuid",
        "expires_at",
    ),
    Index("ix_credit_lots_account_id_expires_at", "account_id", "expires_at"),
)

# Which lots a debit or a hold drew from, so that a reversal or a release can give it back.
lot_draws = Table(
    "lot_draws",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("source_uuid", String(36), primary_key=True),
    Column("lot_uuid", String(36), primary_key=True),
    Column("amount", BigInteger, nullable=False),
    Column("restored", BigInteger, nullable=False, server_default="0"),
    Column("wallet_uuid", String(36), nullable=False),
    ForeignKeyConstraint(
        ["account_id", "wallet_uuid"], ["wallets.account_id", "wallets.uuid"], ondelete="CASCADE"
    ),
    CheckConstraint("amount > 0", name="amount"),
    CheckConstraint("restored >= 0 AND restored <= amount", name="restored"),
)
