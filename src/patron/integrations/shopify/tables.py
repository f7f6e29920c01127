"""The store-credit mirror's journal: one row per ledger entry sent to Shopify.

Shopify's store-credit mutations take no idempotency key, so Patron keeps its own record,
keyed by the entry's uuid. A row is written (``sending``) and committed before the request
goes out; the answer makes it ``done`` (with Shopify's transaction id) or ``failed``. A row
still ``sending`` on a later attempt is in doubt — the request may have been applied — and
is reconciled against the account's recent transactions before anything is sent again.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, String, Table, Text

from patron.core.db import metadata

SENDING = "sending"
DONE = "done"
FAILED = "failed"

shopify_credit_mirrors = Table(
    "shopify_credit_mirrors",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("entry_uuid", String(36), primary_key=True),
    Column("wallet_uuid", String(36), nullable=False),
    Column("customer_gid", String(200), nullable=False),
    Column("direction", String(6), nullable=False),  # credit | debit
    Column("amount", BigInteger, nullable=False),  # minor units, positive
    Column("currency", String(3), nullable=False),
    Column("status", String(10), nullable=False),
    Column("transaction_id", String(200), nullable=True),
    Column("balance_after", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_shopify_credit_mirrors_account_id_transaction_id", "account_id", "transaction_id"),
)
