from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from patron.core.db import metadata

customers = Table(
    "customers",
    metadata,
    Column("account_id", String(36), ForeignKey("accounts.account_id"), primary_key=True),
    Column("uuid", String(36), primary_key=True),
    Column("number", BigInteger, nullable=False),
    Column("name", String(200), nullable=True),
    Column("first_name", String(100), nullable=True),
    Column("last_name", String(100), nullable=True),
    Column("email", String(254), nullable=True),
    Column("email_normalized", String(254), nullable=True),
    Column("secondary_email", String(254), nullable=True),
    Column("phone", String(16), nullable=True),
    Column("birthday", Date, nullable=True),
    # Kept beside the date so that audience rules can match a month the same way on both stores.
    Column("birthday_month", SmallInteger, nullable=True),
    Column("gender", String(20), nullable=True),
    Column("address_line1", String(200), nullable=True),
    Column("address_line2", String(200), nullable=True),
    Column("city", String(100), nullable=True),
    Column("region", String(100), nullable=True),
    Column("postal_code", String(20), nullable=True),
    Column("country", String(2), nullable=True),
    Column("loyalty_id", String(100), nullable=True),
    Column("picture", String(2000), nullable=True),
    Column("extra_info", JSON, nullable=True),
    Column("source", String(100), nullable=True),
    Column("source_id", String(200), nullable=True),
    Column("notes", Text, nullable=True),
    Column("accepts_marketing", Boolean, nullable=False, server_default="0"),
    Column("verified", Boolean, nullable=False, server_default="0"),
    Column("archived", Boolean, nullable=False, server_default="0"),
    # When the customer was last archived (inactivated); None while it is active.
    Column("archived_at", DateTime(timezone=True), nullable=True),
    Column("user_type", String(20), nullable=False, server_default="CONSUMER"),
    Column("connected_services", JSON, nullable=False),
    Column("password_hash", String(200), nullable=True),
    # Set when the person was erased: every personal field is blank, and no surface shows the
    # row; it stays so that its wallet, entries and orders keep the books whole.
    Column("erased_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("account_id", "number"),
    UniqueConstraint("account_id", "email_normalized"),
    UniqueConstraint("account_id", "loyalty_id"),
    Index("ix_customers_account_id_created_at_number", "account_id", "created_at", "number"),
    # A uuid names one customer in the whole store: orders point at it alone (orders/tables).
    Index("ix_customers_uuid", "uuid", unique=True),
)

identities = Table(
    "identities",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("service", String(20), primary_key=True),
    Column("external_id", String(200), primary_key=True),
    Column("customer_uuid", String(36), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(
        ["account_id", "customer_uuid"],
        ["customers.account_id", "customers.uuid"],
        ondelete="CASCADE",
    ),
    # Also the index of a customer's identities (its leading columns).
    UniqueConstraint("account_id", "customer_uuid", "service"),
)
