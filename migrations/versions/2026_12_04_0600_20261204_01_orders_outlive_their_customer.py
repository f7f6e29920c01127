"""orders: deleting a customer detaches its orders instead of failing

The composite key ``(account_id, customer_uuid)`` was ``ON DELETE SET NULL``, which also
nulled ``account_id`` (NOT NULL), so a customer with an order could not be deleted. Orders
now point at the customer by ``customer_uuid`` alone for the SET NULL (customers' uuids
are unique store-wide), and the tenant's composite key is checked at commit.

Revision ID: 20261204_01
Revises: 20261123_11
Create Date: 2026-12-04 06:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261204_01"
down_revision: str | None = "20261123_11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index("ix_customers_uuid", ["uuid"], unique=True)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint("fk_orders_account_id_customer_uuid_customers", type_="foreignkey")
        batch_op.create_foreign_key(
            "fk_orders_customer_uuid_customers",
            "customers",
            ["customer_uuid"],
            ["uuid"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            "fk_orders_account_id_customer_uuid_customers",
            "customers",
            ["account_id", "customer_uuid"],
            ["account_id", "uuid"],
            deferrable=True,
            initially="DEFERRED",
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint("fk_orders_account_id_customer_uuid_customers", type_="foreignkey")
        batch_op.drop_constraint("fk_orders_customer_uuid_customers", type_="foreignkey")
        batch_op.create_foreign_key(
            "fk_orders_account_id_customer_uuid_customers",
            "customers",
            ["account_id", "customer_uuid"],
            ["account_id", "uuid"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_uuid")
