from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from patron.core.db import metadata

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("points_precision", Integer, nullable=False, server_default="0"),
    Column("settings", JSON, nullable=False),
    Column("next_customer_number", BigInteger, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # A stable integer id per install (the seed vendor's Account.id), oldest account first.
    Column("number", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("points_precision >= 0 AND points_precision <= 6", name="points_precision"),
    UniqueConstraint("number"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("account_id", String(36), ForeignKey("accounts.account_id"), primary_key=True),
    Column("token_id", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False),
    Column("prefix", String(20), nullable=False),
    Column("name", String(200), nullable=True),
    Column("scope", String(10), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("scope IN ('read', 'write', 'admin')", name="scope"),
    # The one lookup made before the account is known: by the hash of the presented token.
    Index("ix_api_tokens_token_hash", "token_hash", unique=True),
)
