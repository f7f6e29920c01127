"""Stamp cards: one stamp per qualifying completed order, a reward code per full card."""

from __future__ import annotations

from sqlalchemy import (
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

stamp_cards = Table(
    "stamp_cards",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("customer_uuid", String(36), primary_key=True),
    # Stamps on the card being filled, and how many full cards became rewards.
    Column("stamps", Integer, nullable=False, server_default="0"),
    Column("rewards", Integer, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(
        ["account_id", "customer_uuid"],
        ["customers.account_id", "customers.uuid"],
        ondelete="CASCADE",
    ),
    CheckConstraint("stamps >= 0", name="stamps"),
    CheckConstraint("rewards >= 0", name="rewards"),
)

# One row per stamped order: an order is stamped at most once, however often it is recorded.
order_stamps = Table(
    "order_stamps",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("order_uuid", String(36), primary_key=True),
    Column("customer_uuid", String(36), nullable=False),
    Column("redemption_uuid", String(36), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(
        ["account_id", "order_uuid"], ["orders.account_id", "orders.uuid"], ondelete="CASCADE"
    ),
    Index("ix_order_stamps_account_id_customer_uuid", "account_id", "customer_uuid"),
)
