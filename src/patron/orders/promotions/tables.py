from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from patron.core.db import metadata

promotions = Table(
    "promotions",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("uuid", String(36), primary_key=True),
    Column("number", BigInteger, nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("starts_at", DateTime(timezone=True), nullable=True),
    Column("ends_at", DateTime(timezone=True), nullable=True),
    Column("all_stores", Boolean, nullable=False, server_default="1"),
    # EVERYONE, MIN_POINTS (audience_value points), MIN_ORDERS (audience_value orders),
    # BIRTHDAY_MONTH (customers whose birthday falls in the current month).
    Column("audience", String(20), nullable=False),
    Column("audience_value", BigInteger, nullable=True),
    # POINTS_MULTIPLIER (reward_value "2"), FIXED_CREDIT (reward_value in minor units of
    # reward_credit_type), REDEMPTION_CODE (a code of reward_value minor units).
    Column("reward", String(20), nullable=False),
    Column("reward_value", String(30), nullable=False),
    Column("reward_credit_type", String(10), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("account_id", "number"),
    CheckConstraint(
        "audience IN ('EVERYONE', 'MIN_POINTS', 'MIN_ORDERS', 'BIRTHDAY_MONTH')", name="audience"
    ),
    CheckConstraint(
        "reward IN ('POINTS_MULTIPLIER', 'FIXED_CREDIT', 'REDEMPTION_CODE')", name="reward"
    ),
    Index("ix_promotions_account_id_active_starts_at", "account_id", "active", "starts_at"),
)

promotion_stores = Table(
    "promotion_stores",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("promotion_uuid", String(36), primary_key=True),
    Column("store_uuid", String(36), primary_key=True),
    ForeignKeyConstraint(
        ["account_id", "promotion_uuid"],
        ["promotions.account_id", "promotions.uuid"],
        ondelete="CASCADE",
    ),
    ForeignKeyConstraint(
        ["account_id", "store_uuid"], ["stores.account_id", "stores.uuid"], ondelete="CASCADE"
    ),
)
