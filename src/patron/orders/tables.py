from __future__ import annotations

from sqlalchemy import (
    JSON,
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

stores = Table(
    "stores",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("uuid", String(36), primary_key=True),
    Column("number", BigInteger, nullable=False),
    Column("name", String(200), nullable=False),
    Column("external_id", String(200), nullable=True),
    # Points multiplier of the earning rule at this store, an exact decimal as text ("1.5").
    Column("points_multiplier", String(20), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("account_id", "number"),
    UniqueConstraint("account_id", "external_id"),
)

orders = Table(
    "orders",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("uuid", String(36), primary_key=True),
    Column("number", BigInteger, nullable=False),
    # The store's uuid, or "" for orders without a store: keeps (store, external id) unique.
    Column("store_key", String(36), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("customer_uuid", String(36), nullable=True),
    Column("total", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("payment_type", String(30), nullable=True),
    Column("order_type", String(30), nullable=True),
    Column("status", String(20), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("refunded", BigInteger, nullable=False, server_default="0"),
    Column("points_earned", BigInteger, nullable=False, server_default="0"),
    Column("points_clawed_back", BigInteger, nullable=False, server_default="0"),
    Column("clawback_shortfall", BigInteger, nullable=False, server_default="0"),
    Column("credit_paid", BigInteger, nullable=False, server_default="0"),
    Column("credit_returned", BigInteger, nullable=False, server_default="0"),
    Column("lines", JSON, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Deleting a customer keeps its orders (the merchant's sales) and only forgets who
    # bought: the one-column key nulls customer_uuid alone, and the tenant's composite key,
    # checked at commit, then holds for the detached order. (A composite SET NULL would
    # also null account_id.)
    ForeignKeyConstraint(["customer_uuid"], ["customers.uuid"], ondelete="SET NULL"),
    ForeignKeyConstraint(
        ["account_id", "customer_uuid"],
        ["customers.account_id", "customers.uuid"],
        deferrable=True,
        initially="DEFERRED",
    ),
    UniqueConstraint("account_id", "store_key", "external_id"),
    UniqueConstraint("account_id", "number"),
    CheckConstraint("total >= 0", name="total"),
    CheckConstraint("refunded >= 0 AND refunded <= total", name="refunded"),
    CheckConstraint("credit_returned >= 0 AND credit_returned <= credit_paid", name="credit"),
    Index(
        "ix_orders_account_id_customer_uuid_completed_at",
        "account_id",
        "customer_uuid",
        "completed_at",
    ),
)

order_refunds = Table(
    "order_refunds",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("uuid", String(36), primary_key=True),
    Column("order_uuid", String(36), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("points_clawed_back", BigInteger, nullable=False, server_default="0"),
    Column("clawback_shortfall", BigInteger, nullable=False, server_default="0"),
    Column("credit_returned", BigInteger, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(
        ["account_id", "order_uuid"], ["orders.account_id", "orders.uuid"], ondelete="CASCADE"
    ),
    UniqueConstraint("account_id", "order_uuid", "external_id"),
    CheckConstraint("amount > 0", name="amount"),
)
