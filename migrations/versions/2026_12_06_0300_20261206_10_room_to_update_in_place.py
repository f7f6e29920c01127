"""wallets, day totals, counters: room on each page to update a row in place (PostgreSQL)

Every posting updates its wallet's row, a day total's row and (an order, a new contact) a
counter's row. PostgreSQL writes a new version of an updated row; when there is room for it
on the row's own page and no indexed column changed (none does here), the indexes are left
alone (a "HOT" update) and the old version is pruned from the page. Pages filled to the brim
(the default) leave no room: each update then writes a new entry into every index of the
table. A fill factor of 70 keeps 30 % of each page for the new versions. It applies to pages
filled from now on; SQLite has no such setting.

Revision ID: 20261206_10
Revises: 20261205_90
Create Date: 2026-12-06 03:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261206_10"
down_revision: str | None = "20261205_90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("wallets", "credit_day_totals", "account_counters")


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
