"""Contact persons: the people to reach at a customer, with per-account integer ids."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
)

from patron.core.db import metadata

contact_persons = Table(
    "contact_persons",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("customer_uuid", String(36), nullable=False),
    Column("name", String(50), nullable=False),
    Column("phone", String(15), nullable=False),
    Column("email", String(120), nullable=True),
    Column("note", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # A customer's contact persons go with it, like its wallet.
    ForeignKeyConstraint(
        ["account_id", "customer_uuid"],
        ["customers.account_id", "customers.uuid"],
        ondelete="CASCADE",
    ),
    Index("ix_contact_persons_account_id_customer_uuid_id", "account_id", "customer_uuid", "id"),
)
