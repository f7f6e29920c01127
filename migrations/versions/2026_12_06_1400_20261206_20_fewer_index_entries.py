"""credit_entries, customers, identities: no index entries that no query can find

Three indexes of credit_entries find the entries of one order, one redemption, or those that
reverse one entry; most entries (every ADD from the API, an import's balances, the expiry
sweep's removals) have none of the three, yet each wrote a NULL key into all three. They now
hold only entries that have the value (a lookup ``= value`` implies ``IS NOT NULL``, so both
stores still use them). No statement looks customers up by their birthday month (a birthday
promotion reads the month of customers found by uuid): that index is dropped. So is the
identities' index on (account, customer), the leading part of their unique (account,
customer, service), which serves the same lookups.

A new contact with both balances, from the API or an import, writes eight fewer index
entries.

Revision ID: 20261206_20
Revises: 20261206_10
Create Date: 2026-12-06 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261206_20"
down_revision: str | None = "20261206_10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PARTIAL = (
    ("credit_entries", "reverses_uuid"),
    ("credit_entries", "order_uuid"),
    ("credit_entries", "redemption_uuid"),
)
_DROPPED = (
    ("identities", "ix_identities_account_id_customer_uuid", ["account_id", "customer_uuid"]),
    ("customers", "ix_customers_account_id_birthday_month", ["account_id", "birthday_month"]),
)


def _where(column: str) -> dict[str, sa.TextClause]:
    condition = sa.text(f"{column} IS NOT NULL")
    return {"postgresql_where": condition, "sqlite_where": condition}


def upgrade() -> None:
    for table, column in _PARTIAL:
        name = f"ix_{table}_account_id_{column}"
        op.drop_index(name, table_name=table)
        op.create_index(name, table, ["account_id", column], unique=False, **_where(column))
    for table, name, _columns in _DROPPED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for table, name, columns in _DROPPED:
        op.create_index(name, table, columns, unique=False)
    for table, column in _PARTIAL:
        name = f"ix_{table}_account_id_{column}"
        op.drop_index(name, table_name=table)
        op.create_index(name, table, ["account_id", column], unique=False)
