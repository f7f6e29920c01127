"""credit_entries: the action and reason checks as equalities, not IN lists

SQLite (3.40, as Debian and Python ship it) evaluates a CHECK of the form ``x IN ('a', 'b',
'c')`` by building a temporary table of the list for every row written: two such tables an
entry (its action, its reason), about a seventh of what an import's writing process
executes on SQLite. ``x = 'a' OR x = 'b' OR ...`` admits exactly the same rows (NULL
included) and costs a comparison each. On PostgreSQL the constraints are replaced alike, so
that both stores hold the text the tables declare.

Revision ID: 20261207_10
Revises: 20261206_20
Create Date: 2026-12-07 07:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261207_10"
down_revision: str | None = "20261206_20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VALUES = {
    "action": ("ADD", "SPEND", "REMOVE"),
    "reason": (
        "MANUAL",
        "CONVERSION",
        "REDEMPTION",
        "REDEMPTION_REFUND",
        "ORDER",
        "ORDER_REFUND",
        "EXPIRY",
        "IMPORT",
    ),
}


def _replace(condition: dict[str, str]) -> None:
    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        for column, text in condition.items():
            batch_op.drop_constraint(op.f(f"ck_credit_entries_{column}"), type_="check")
            batch_op.create_check_constraint(op.f(f"ck_credit_entries_{column}"), text)


def upgrade() -> None:
    _replace(
        {
            column: " OR ".join(f"{column} = '{value}'" for value in values)
            for column, values in _VALUES.items()
        }
    )


def downgrade() -> None:
    _replace(
        {
            column: f"{column} IN ({', '.join(repr(value) for value in values)})"
            for column, values in _VALUES.items()
        }
    )
