from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    text,
)

from patron.core.db import metadata
from patron.wallets.models import Action, Reason


def one_of(column: str, values: Iterable[str]) -> str:
    """A CHECK that ``column`` is one of ``values``, written as equalities joined by OR: SQLite
    (3.40) turns an IN list of more than two into a temporary table built again for each row
    written (two such checks an entry were a seventh of what the importing process executes
    on SQLite); the equalities cost a comparison each. The same rows pass, NULL included."""
    return " OR ".join(f"{column} = '{value}'" for value in values)


# Every action and reason the ledger knows, from their one declaration (a new one needs a
# migration too).
_ACTIONS = tuple(action.value for action in Action)
_REASONS = tuple(reason.value for reason in Reason)

wallets = Table(
    "wallets",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("uuid", String(36), primary_key=True),
    Column("customer_uuid", String(36), nullable=False),
    # Balances are totals in minor units; held amounts are reserved by open redemption codes.
    Column("global_balance", BigInteger, nullable=False, server_default="0"),
    Column("local_balance", BigInteger, nullable=False, server_default="0"),
    Column("global_held", BigInteger, nullable=False, server_default="0"),
    Column("local_held", BigInteger, nullable=False, server_default="0"),
    # Shopify's store-credit balance in the account's currency, and when it was read.
    Column("shopify_balance", BigInteger, nullable=True),
    Column("shopify_synced_at", DateTime(timezone=True), nullable=True),
    Column("entry_count", BigInteger, nullable=False, server_default="0"),
    # Lots with credit left to expire: spends only look for lots when there are some.
    Column("open_lots", BigInteger, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Set when its customer was erased: the balances stay on the books, but no request reads
    # the wallet or moves its credit again (the expiry sweep still closes its lots).
    Column("erased_at", DateTime(timezone=True), nullable=True),
    ForeignKeyConstraint(
        ["account_id", "customer_uuid"],
        ["customers.account_id", "customers.uuid"],
        ondelete="CASCADE",
    ),
    UniqueConstraint("account_id", "customer_uuid"),
    CheckConstraint("global_balance >= 0", name="global_balance"),
    CheckConstraint("local_balance >= 0", name="local_balance"),
    CheckConstraint("global_held >= 0 AND global_held <= global_balance", name="global_held"),
    CheckConstraint("local_held >= 0 AND local_held <= local_balance", name="local_held"),
    CheckConstraint("open_lots >= 0", name="open_lots"),
)


def _present(column: str) -> Index:
    """An index of credit entries on (account_id, COLUMN) holding only the entries that have
    a COLUMN, in both stores."""
    condition = text(f"{column} IS NOT NULL")
    return Index(
        f"ix_credit_entries_account_id_{column}",
        "account_id",
        column,
        postgresql_where=condition,
        sqlite_where=condition,
    )


credit_entries = Table(
    "credit_entries",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("uuid", String(36), primary_key=True),
    Column("wallet_uuid", String(36), nullable=False),
    # Position in the wallet's ledger (1, 2, 3, ...): the order of balance_after.
    Column("seq", BigInteger, nullable=False),
    Column("action", String(10), nullable=False),
    Column("credit_type", String(10), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("reason", String(30), nullable=False),
    Column("note", String(500), nullable=True),
    Column("idempotency_key", String(200), nullable=True),
    Column("conversion_uuid", String(36), nullable=True),
    Column("redemption_uuid", String(36), nullable=True),
    Column("order_uuid", String(36), nullable=True),
    Column("reverses_uuid", String(36), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Who wrote it (see accounts.principal.Principal.actor): "token:<id>", "consumer:<uuid>",
    # "staff:<id>" or "system:<job>", and the token's or job's name when it has one.
    Column("actor", String(80), nullable=True),
    Column("actor_name", String(200), nullable=True),
    ForeignKeyConstraint(
        ["account_id", "wallet_uuid"],
        ["wallets.account_id", "wallets.uuid"],
        ondelete="CASCADE",
    ),
    UniqueConstraint("account_id", "wallet_uuid", "seq"),
    # The entries of one order, one redemption, or that reverse one entry: only those that
    # have one (a lookup "= value" implies "IS NOT NULL"), so an entry with none of the
    # three (an ADD, an import's balance) writes no index entry for them.
    _present("reverses_uuid"),
    _present("order_uuid"),
    _present("redemption_uuid"),
    # An export of the entries written since a moment reads them by their time.
    Index("ix_credit_entries_account_id_created_at", "account_id", "created_at"),
    # The points entries of a wallet (the points a page of consumers has earned), without
    # reading its store-credit entries: a gift card or a busy till writes hundreds of those.
    Index(
        "ix_credit_entries_account_id_wallet_uuid_local",
        "account_id",
        "wallet_uuid",
        postgresql_where=text("credit_type = 'LOCAL'"),
        sqlite_where=text("credit_type = 'LOCAL'"),
    ),
    CheckConstraint("amount > 0", name="amount"),
    CheckConstraint("balance_after >= 0", name="balance_after"),
    CheckConstraint(one_of("action", _ACTIONS), name="action"),
    CheckConstraint("credit_type IN ('GLOBAL', 'LOCAL')", name="credit_type"),
    CheckConstraint(one_of("reason", _REASONS), name="reason"),
)

# Each day's entries summed per credit type, action and reason: what the console's overview
# reads instead of the day's entries. Written in the transaction of the entries it counts
# (wallets/day_totals.py). A day's totals may be spread over a few buckets, summed on read:
# concurrent transactions on PostgreSQL then update different rows rather than wait on one.
credit_day_totals = Table(
    "credit_day_totals",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("day", Date, primary_key=True),  # the entries' created_at, UTC
    Column("credit_type", String(10), primary_key=True),
    Column("action", String(10), primary_key=True),
    Column("reason", String(30), primary_key=True),
    Column("bucket", SmallInteger, primary_key=True),
    Column("total", BigInteger, nullable=False),
    Column("entries", BigInteger, nullable=False),
    CheckConstraint("total > 0", name="total"),
    CheckConstraint("entries > 0", name="entries"),
)
