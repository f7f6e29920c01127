"""What the commands of one transaction share of what they read (``core.db.transaction_memo``):
the account's settings and the windows of its points multipliers, read once per batch of
orders; a write in the transaction, or a command rolled back to its savepoint, forgets them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, select

from patron.accounts import settings as account_settings
from patron.core.clock import as_utc, utcnow
from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.core.events import audit_events, outbox_events
from patron.core.unit import run_command
from patron.orders import service as orders
from patron.orders.promotions import repository as promotion_rows
from tests.support.databases import grouped_store
from tests.support.orders import balances, make_promotion, record
from tests.support.tenants import Tenant, make_contact, new_tenant
from tests.test_group_commit import in_one_batch


@pytest.fixture
def store(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Database]:
    with grouped_store(request, database_url, tmp_path) as db:
        yield db


class Statements:
    """The statements ``db`` sends while it is open, as text."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.seen: list[str] = []

    def _before(self, *args: Any) -> None:
        self.seen.append(str(args[2]))

    def __enter__(self) -> Statements:
        event.listen(self.db.engine, "before_cursor_execute", self._before)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.db.engine, "before_cursor_execute", self._before)

    def reading(self, table: str) -> int:
        return sum(1 for text in self.seen if f"FROM {table}" in text and "SELECT" in text)


def rule(connection: Connection, tenant: Tenant) -> Decimal | None:
    return account_settings.earning_rule(account_settings.current(connection, tenant.uuid))


def test_a_transaction_reads_the_settings_once_and_sees_its_own_change(db: Database) -> None:
    tenant = new_tenant(db)
    orders.set_earning_rule(db, tenant.principal, "1")
    with Statements(db) as statements, db.write() as connection:
        assert rule(connection, tenant) == Decimal(1)
        assert rule(connection, tenant) == Decimal(1)
        assert statements.reading("accounts") == 1
        account_settings.set_earning_rule(connection, tenant.uuid, Decimal(3))
        assert rule(connection, tenant) == Decimal(3)
    # A new transaction reads them again: a change committed in between is seen.
    with db.write() as connection:
        assert rule(connection, tenant) == Decimal(3)
    orders.set_earning_rule(db, tenant.principal, "4")
    with db.write() as connection:
        assert rule(connection, tenant) == Decimal(4)


def test_the_multipliers_windows_are_read_once_and_each_moment_checked_against_them(
    db: Database,
) -> None:
    tenant = new_tenant(db)
    now = utcnow()
    make_promotion(
        db,
        tenant,
        name="Tomorrow's hour",
        reward_value="2",
        starts_at=now + timedelta(hours=1),
        ends_at=now + timedelta(hours=2),
    )

    def running(connection: Connection, after: timedelta) -> bool:
        return promotion_rows.any_points_multiplier_running(connection, tenant.uuid, now + after)

    with Statements(db) as statements, db.write() as connection:
        seen = [running(connection, timedelta(minutes=minutes)) for minutes in (0, 90, 180)]
        assert seen == [False, True, False]
        assert statements.reading("promotions") == 1
        # A moment before the one the windows were read for reads them again.
        assert running(connection, timedelta(hours=-1)) is False
        assert statements.reading("promotions") == 2
    with db.write() as connection:
        assert running(connection, timedelta(minutes=90)) is True


def test_the_orders_of_one_batch_read_the_settings_and_multipliers_once(
    store: Database,
) -> None:
    tenant = new_tenant(store)
    orders.set_earning_rule(store, tenant.principal, "1")
    contacts = [make_contact(store, tenant).customer.uuid for _ in range(3)]
    with Statements(store) as statements:
        futures = in_one_batch(
            store,
            [
                lambda uuid=uuid: record(store, tenant, "25.00", customer=uuid)  # type: ignore[misc]
                for uuid in contacts
            ],
        )
    assert [future.result().points_earned for future in futures] == [25, 25, 25]
    assert statements.reading("accounts") == 1
    assert statements.reading("promotions") == 1
    assert [balances(store, tenant, uuid) for uuid in contacts] == [(0, 25)] * 3


def test_a_rule_and_a_multiplier_written_in_a_batch_count_for_the_orders_after_them(
    store: Database,
) -> None:
    """The batch's commands run in an order of its own: each order earns what the rule and
    the multipliers written before it (by the times the batch wrote them) say."""
    tenant = new_tenant(store)
    orders.set_earning_rule(store, tenant.principal, "1")
    contacts = [make_contact(store, tenant).customer.uuid for _ in range(6)]
    calls: list[Any] = [
        lambda uuid=uuid: record(store, tenant, "10.00", customer=uuid) for uuid in contacts
    ]
    calls.insert(2, lambda: orders.set_earning_rule(store, tenant.principal, "2"))
    calls.insert(5, lambda: make_promotion(store, tenant, name="Triple", reward_value="3"))
    futures = in_one_batch(store, calls)
    recorded = [future.result() for future in futures if hasattr(future.result(), "points_earned")]
    assert len(recorded) == 6
    with store.read() as connection:
        rule_set = as_utc(
            connection.execute(
                select(audit_events.c.created_at)
                .where(
                    audit_events.c.account_id == tenant.uuid,
                    audit_events.c.action == "account.earning_rule_set",
                )
                .order_by(audit_events.c.created_at.desc())
                .limit(1)
            ).scalar_one()
        )
        # When the batch wrote the promotion (its own created_at is the request's moment).
        promoted = as_utc(
            connection.execute(
                select(outbox_events.c.created_at).where(
                    outbox_events.c.account_id == tenant.uuid,
                    outbox_events.c.event_type == "promotion.created",
                )
            ).scalar_one()
        )
    for order in recorded:
        rate = 2 if order.created_at > rule_set else 1
        multiplier = 3 if order.created_at > promoted else 1
        assert order.points_earned == 10 * rate * multiplier, (order, rule_set, promoted)


def test_a_command_rolled_back_after_changing_the_settings_leaves_them_to_the_next(
    store: Database,
) -> None:
    tenant = new_tenant(store)
    orders.set_earning_rule(store, tenant.principal, "1")
    contacts = [make_contact(store, tenant).customer.uuid for _ in range(4)]

    def change_then_fail() -> None:
        def write(connection: Connection) -> None:
            account_settings.set_earning_rule(connection, tenant.uuid, Decimal(5))
            assert rule(connection, tenant) == Decimal(5)  # in the memo, then rolled back
            raise InvalidInput("refused after the change", field="rule")

        run_command(store, write)

    calls: list[Any] = [change_then_fail]
    calls += [lambda uuid=uuid: record(store, tenant, "10.00", customer=uuid) for uuid in contacts]
    futures = in_one_batch(store, calls)
    assert isinstance(futures[0].exception(), InvalidInput)
    assert [future.result().points_earned for future in futures[1:]] == [10] * 4
    with store.read() as connection:
        assert rule(connection, tenant) == Decimal(1)
