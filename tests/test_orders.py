"""Orders in the core: earning once, refunds with exact clawback, credit used and given back."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select

from patron.core.db import Database
from patron.core.errors import DomainError, Forbidden, NotFound
from patron.core.events import outbox_events
from patron.orders import service as orders
from patron.orders import stores
from patron.orders.models import (
    OrderCommand,
    OrderStatus,
    RefundCommand,
    RefundResult,
    StoreCommand,
)
from patron.wallets.ledger import InsufficientCredit
from patron.wallets.models import Action, CreditType, EntryCommand
from patron.wallets.service import post_entry
from patron.wallets.verify import verify_ledger
from tests.support.fast_reads import statements
from tests.support.orders import balances, make_store, order_entries, record, snapshot
from tests.support.tenants import Tenant, fund, make_contact, new_tenant


def _refund(
    db: Database, tenant: Tenant, order_uuid: str, external_id: str, amount: str | None
) -> RefundResult:
    return orders.refund_order(
        db,
        tenant.principal,
        RefundCommand(order_uuid=order_uuid, external_id=external_id, amount=amount),
    )


def _spend_points(db: Database, tenant: Tenant, wallet_uuid: str, amount: str) -> None:
    post_entry(
        db,
        tenant.principal,
        EntryCommand(wallet_uuid=wallet_uuid, action="SPEND", credit_type="LOCAL", amount=amount),
    )


@pytest.fixture
def earning(db: Database, tenant: Tenant) -> Tenant:
    """The tenant, earning 2 points per dollar."""
    orders.set_earning_rule(db, tenant.principal, "2")
    return tenant


# Earning


def test_a_completed_order_earns_points_rounded_down_with_the_store_multiplier(
    db: Database, earning: Tenant
) -> None:
    contact = make_contact(db, earning)
    store = make_store(db, earning, points_multiplier="1.5")

    order = record(db, earning, "33.33", customer=contact.customer.uuid, store=store.uuid)

    # 33.33 × 2 × 1.5 = 99.99 points, rounded down to whole points
    assert order.points_earned == 99
    assert order.status is OrderStatus.COMPLETED
    assert order_entries(db, earning, order.uuid) == [("ADD", "LOCAL", 99, "ORDER")]
    assert balances(db, earning, contact.customer.uuid) == (0, 99)
    assert verify_ledger(db).ok


def test_a_new_order_finds_its_contacts_wallet_in_its_own_insert_on_postgresql(
    db: Database, earning: Tenant
) -> None:
    """On PostgreSQL the order's insert, its event and the contact's wallet are one statement
    (the points are one more); SQLite looks the wallet up first. The same order either way."""
    contact = make_contact(db, earning)
    record(db, earning, "1.00", customer=contact.customer.uuid)  # settings read, as before
    with statements(db) as seen:
        order = record(db, earning, "10.00", customer=contact.customer.uuid)
    assert order.points_earned == 20
    assert balances(db, earning, contact.customer.uuid) == (0, 22)
    looked_up = [sql for sql in seen if sql.lstrip().upper().startswith("SELECT WALLETS.UUID")]
    inserts = [sql for sql in seen if "INSERT INTO orders" in sql]
    assert len(inserts) == 1
    if db.is_sqlite:
        assert len(looked_up) == 1
    else:
        assert looked_up == []
        assert "FROM wallets" in inserts[0]
        assert "INSERT INTO outbox_events" in inserts[0]


def test_an_order_for_a_contact_that_is_not_there_writes_nothing(
    db: Database, earning: Tenant
) -> None:
    before = snapshot(db, earning.uuid)
    with pytest.raises(NotFound) as caught:
        record(db, earning, "10.00", customer=str(uuid.uuid4()), external_id="GONE-1")
    assert caught.value.field == "contactUuid"
    assert snapshot(db, earning.uuid) == before


def test_points_round_down_to_the_accounts_points_precision(db: Database) -> None:
    tenant = new_tenant(db, points_precision=2)
    orders.set_earning_rule(db, tenant.principal, "0.333")
    contact = make_contact(db, tenant)

    order = record(db, tenant, "10.01", customer=contact.customer.uuid)

    # 10.01 × 0.333 = 3.33333 points -> 3.33
    assert order.points_earned == 333


def test_a_replayed_order_is_the_same_order_and_earns_nothing_more(
    db: Database, earning: Tenant
) -> None:
    contact = make_contact(db, earning)
    first = record(db, earning, "10.00", customer=contact.customer.uuid, external_id="A-1")
    before = snapshot(db, earning.uuid)

    again = record(db, earning, "10.00", customer=contact.customer.uuid, external_id="A-1")

    assert again == first
    assert snapshot(db, earning.uuid) == before
    assert order_entries(db, earning, first.uuid) == [("ADD", "LOCAL", 20, "ORDER")]


def test_a_new_order_is_written_with_its_event_and_a_replay_writes_neither(
    db: Database, earning: Tenant
) -> None:
    """A new order goes in at once, its ``order.recorded`` event with it (one statement on
    PostgreSQL); the same order again finds its external id taken and writes nothing."""
    contact = make_contact(db, earning)
    seen: list[str] = []

    def before(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        first = record(db, earning, "10.00", customer=contact.customer.uuid, external_id="E-1")
        written = [text for text in seen if text.lstrip().startswith(("INSERT", "WITH"))]
        seen.clear()
        again = record(db, earning, "10.00", customer=contact.customer.uuid, external_id="E-1")
    finally:
        event.remove(db.engine, "before_cursor_execute", before)

    assert again == first
    together = [text for text in written if "INSERT INTO orders" in text]
    assert len(together) == 1
    if not db.is_sqlite:
        assert "INSERT INTO outbox_events" in together[0]
    with db.read() as connection:
        events = connection.execute(
            select(outbox_events.c.payload).where(
                outbox_events.c.account_id == earning.uuid,
                outbox_events.c.event_type == "order.recorded",
            )
        ).all()
    assert [row.payload["order_uuid"] for row in events] == [first.uuid]
    assert events[0].payload["points_earned"] == str(first.points_earned) == "20"  # rate 2


def test_a_replay_is_answered_even_where_a_new_order_would_be_refused(
    db: Database, earning: Tenant
) -> None:
    """A cancelled order that used credit is replayed as it is, though a new CANCELLED order
    may use none: the order is looked up before that rule is applied to it."""
    contact = make_contact(db, earning)
    customer = contact.customer.uuid
    fund(db, earning, contact.wallet_uuid, "30")
    given = {"customer": customer, "external_id": "R-1", "credit_used": "5.00"}
    record(db, earning, "20.00", status="PENDING", **given)  # type: ignore[arg-type]
    cancelled = record(db, earning, "20.00", status="CANCELLED", **given)  # type: ignore[arg-type]
    before = snapshot(db, earning.uuid)

    assert record(db, earning, "20.00", status="CANCELLED", **given) == cancelled  # type: ignore[arg-type]
    assert snapshot(db, earning.uuid) == before
    with pytest.raises(DomainError) as caught:
        record(db, earning, "20.00", status="CANCELLED", **{**given, "external_id": "R-2"})  # type: ignore[arg-type]
    assert caught.value.code == "INVALID"


def test_a_pending_order_earns_when_it_is_completed_and_only_once(
    db: Database, earning: Tenant
) -> None:
    contact = make_contact(db, earning)
    customer = contact.customer.uuid
    pending = record(db, earning, "25.00", customer=customer, external_id="P-1", status="PENDING")
    assert pending.points_earned == 0
    assert pending.completed_at is None
    assert balances(db, earning, customer) == (0, 0)

    done_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    completed = record(
        db, earning, "25.00", customer=customer, external_id="P-1", completed_at=done_at
    )
    replayed = record(db, earning, "25.00", customer=customer, external_id="P-1")

    assert completed.uuid == pending.uuid
    assert completed.status is OrderStatus.COMPLETED
    assert completed.completed_at == done_at
    assert completed.points_earned == 50
    assert replayed == completed
    assert order_entries(db, earning, pending.uuid) == [("ADD", "LOCAL", 50, "ORDER")]


def test_the_same_order_completed_by_many_clients_at_once_earns_once(
    db: Database, earning: Tenant
) -> None:
    contact = make_contact(db, earning)
    customer = contact.customer.uuid
    record(db, earning, "5.00", customer=customer, external_id="RACE", status="PENDING")
    results: list[str] = []
    failures: list[BaseException] = []

    def complete() -> None:
        try:
            results.append(record(db, earning, "5.00", customer=customer, external_id="RACE").uuid)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=complete) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(set(results)) == 1
    assert order_entries(db, earning, results[0]) == [("ADD", "LOCAL", 10, "ORDER")]
    assert verify_ledger(db).ok


def test_without_an_earning_rule_orders_earn_nothing(db: Database, tenant: Tenant) -> None:
    contact = make_contact(db, tenant)

    order = record(db, tenant, "100.00", customer=contact.customer.uuid)

    assert order.points_earned == 0
    assert order_entries(db, tenant, order.uuid) == []


def test_clearing_the_earning_rule_stops_earning(db: Database, earning: Tenant) -> None:
    orders.set_earning_rule(db, earning.principal, None)
    contact = make_contact(db, earning)

    order = record(db, earning, "100.00", customer=contact.customer.uuid)

    assert order.points_earned == 0
    with db.read() as connection:
        assert orders.earning_rule(connection, earning.principal) is None


def test_the_earning_rule_needs_the_admin_scope_and_a_positive_rate(
    db: Database, tenant: Tenant
) -> None:
    writer = tenant.with_scope(db, "write")
    with pytest.raises(Forbidden):
        orders.set_earning_rule(db, writer.principal, "2")
    for bad in ("0", "-1", "abc", "NaN", "1.1234567", "2000000"):
        with pytest.raises(DomainError) as caught:
            orders.set_earning_rule(db, tenant.principal, bad)
        assert caught.value.field == "pointsPerCurrencyUnit"
    with db.read() as connection:
        assert orders.earning_rule(connection, tenant.principal) is None


def test_a_cancelled_pending_order_gives_the_credit_used_back(
    db: Database, earning: Tenant
) -> None:
    contact = make_contact(db, earning)
    customer = contact.customer.uuid
    fund(db, earning, contact.wallet_uuid, "30")
    record(
        db,
        earning,
        "20.00",
        customer=customer,
        external_id="C-1",
        status="PENDING",
        credit_used="12.50",
    )
    assert balances(db, earning, customer) == (1750, 0)

    cancelled = record(
        db,
        earning,
        "20.00",
        customer=customer,
        external_id="C-1",
        status="CANCELLED",
        credit_used="12.50",
    )

    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.credit_returned == 1250
    assert cancelled.points_earned == 0
    assert balances(db, earning, customer) == (3000, 0)
    assert order_entries(db, earning, cancelled.uuid) == [
        ("SPEND", "GLOBAL", 1250, "ORDER"),
        ("ADD", "GLOBAL", 1250, "ORDER_REFUND"),
    ]
    with pytest.raises(DomainError) as caught:
        record(db, earning, "20.00", customer=customer, external_id="C-1", credit_used="12.50")
    assert caught.value.code == "INVALID_STATUS_CHANGE"


def test_a_completed_order_cannot_go_back_to_pending(db: Database, earning: Tenant) -> None:
    contact = make_contact(db, earning)
    record(db, earning, "20.00", customer=contact.customer.uuid, external_id="B-1")
    before = snapshot(db, earning.uuid)

    with pytest.raises(DomainError) as caught:
        record(
            db,
            earning,
            "20.00",
            customer=contact.customer.uuid,
            external_id="B-1",
            status="PENDING",
        )

    assert caught.value.code == "INVALID_STATUS_CHANGE"
    assert "refund it instead" in caught.value.message
    assert snapshot(db, earning.uuid) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"total": "20.01"}, "total"),
        ({"credit_used": "1.00"}, "creditUsed"),
        ({"customer": None}, "contactUuid"),
        ({"completed_at": datetime(2020, 1, 1, tzinfo=UTC)}, "completedAt"),
    ],
)
def test_other_input_for_a_recorded_order_is_a_conflict_and_changes_nothing(
    db: Database, earning: Tenant, change: dict[str, object], field: str
) -> None:
    contact = make_contact(db, earning)
    fund(db, earning, contact.wallet_uuid, "5")
    given: dict[str, object] = {"customer": contact.customer.uuid, "external_id": "X-1"}
    record(db, earning, "20.00", **given)  # type: ignore[arg-type]
    before = snapshot(db, earning.uuid)
    changed = dict(change)
    total = str(changed.pop("total", "20.00"))

    with pytest.raises(DomainError) as caught:
        record(db, earning, total, **{**given, **changed})  # type: ignore[arg-type]

    assert caught.value.code == "ORDER_CONFLICT"
    assert caught.value.field == field
    assert "X-1" in caught.value.message
    assert snapshot(db, earning.uuid) == before


def test_the_same_external_id_at_two_stores_is_two_orders(db: Database, earning: Tenant) -> None:
    north = make_store(db, earning, name="North")
    south = make_store(db, earning, name="South")

    first = record(db, earning, "1.00", store=north.uuid, external_id="1001")
    second = record(db, earning, "2.00", store=south.uuid, external_id="1001")
    third = record(db, earning, "3.00", external_id="1001")

    assert len({first.uuid, second.uuid, third.uuid}) == 3
    assert (first.store_uuid, second.store_uuid, third.store_uuid) == (north.uuid, south.uuid, None)
    assert [first.number, second.number, third.number] == [1, 2, 3]


# Credit used to pay


def test_credit_used_is_spent_from_the_wallet_linked_to_the_order(
    db: Database, earning: Tenant
) -> None:
    contact = make_contact(db, earning)
    fund(db, earning, contact.wallet_uuid, "10")

    order = record(db, earning, "40.00", customer=contact.customer.uuid, credit_used="7.25")

    assert order.credit_paid == 725
    assert order_entries(db, earning, order.uuid) == [
        ("SPEND", "GLOBAL", 725, "ORDER"),
        ("ADD", "LOCAL", 80, "ORDER"),
    ]
    assert balances(db, earning, contact.customer.uuid) == (275, 80)


def test_credit_used_above_the_balance_is_refused_and_records_nothing(
    db: Database, earning: Tenant
) -> None:
    contact = make_contact(db, earning)
    fund(db, earning, contact.wallet_uuid, "5")
    before = snapshot(db, earning.uuid)

    with pytest.raises(InsufficientCredit) as caught:
        record(db, earning, "40.00", customer=contact.customer.uuid, credit_used="5.01")

    assert caught.value.code == "INSUFFICIENT_CREDIT"
    assert snapshot(db, earning.uuid) == before


# Bad input


@pytest.mark.parametrize(
    ("total", "kwargs", "field", "code"),
    [
        ("10.00", {"currency": "EUR"}, "currency", "CURRENCY_MISMATCH"),
        ("10.00", {"currency": "XYZ"}, "currency", "INVALID"),
        ("-1", {}, "total", "INVALID"),
        ("1.001", {}, "total", "INVALID"),
        ("NaN", {}, "total", "INVALID"),
        ("1e20", {}, "total", "INVALID"),
        ("10.00", {"status": "SHIPPED"}, "status", "INVALID"),
        ("10.00", {"credit_used": "0"}, "creditUsed", "INVALID"),
        ("10.00", {"credit_used": "10.01"}, "creditUsed", "INVALID"),
        ("10.00", {"external_id": ""}, "externalId", "INVALID"),
        ("10.00", {"external_id": "x" * 201}, "externalId", "INVALID"),
        (
            "10.00",
            {"status": "PENDING", "completed_at": datetime.now(UTC)},
            "completedAt",
            "INVALID",
        ),
        (
            "10.00",
            {"completed_at": datetime.now(UTC) + timedelta(days=1)},
            "completedAt",
            "INVALID",
        ),
    ],
)
def test_bad_orders_are_refused_with_the_field_and_change_nothing(
    db: Database, earning: Tenant, total: str, kwargs: dict[str, object], field: str, code: str
) -> None:
    contact = make_contact(db, earning)
    fund(db, earning, contact.wallet_uuid, "50")
    before = snapshot(db, earning.uuid)

    with pytest.raises(DomainError) as caught:
        record(db, earning, total, customer=contact.customer.uuid, **kwargs)  # type: ignore[arg-type]

    assert (caught.value.field, caught.value.code) == (field, code)
    assert snapshot(db, earning.uuid) == before


def test_credit_used_needs_a_customer(db: Database, earning: Tenant) -> None:
    with pytest.raises(DomainError) as caught:
        record(db, earning, "10.00", credit_used="1.00")

    assert caught.value.field == "creditUsed"


@pytest.mark.parametrize("field", ["contactUuid", "storeUuid"])
def test_unknown_and_other_accounts_ids_are_not_found(
    db: Database, earning: Tenant, other_tenant: Tenant, field: str
) -> None:
    theirs_contact = make_contact(db, other_tenant)
    theirs_store = make_store(db, other_tenant)
    before = snapshot(db, earning.uuid)
    other_before = snapshot(db, other_tenant.uuid)

    for unknown in ("not-a-uuid", theirs_contact.customer.uuid, theirs_store.uuid):
        if field == "contactUuid":
            command = OrderCommand(
                external_id="E", total="1", currency="USD", customer_uuid=unknown
            )
        else:
            command = OrderCommand(external_id="E", total="1", currency="USD", store_uuid=unknown)
        with pytest.raises(NotFound) as caught:
            orders.record_order(db, earning.principal, command)
        assert caught.value.field == field

    assert snapshot(db, earning.uuid) == before
    assert snapshot(db, other_tenant.uuid) == other_before


def test_recording_needs_the_write_scope(db: Database, earning: Tenant) -> None:
    reader = earning.with_scope(db, "read")
    before = snapshot(db, earning.uuid)

    with pytest.raises(Forbidden):
        record(db, reader, "1.00")
    with pytest.raises(Forbidden):
        stores.create_store(db, reader.principal, StoreCommand(name="Nope"))

    assert snapshot(db, earning.uuid) == before


def test_lines_must_be_a_list_of_objects(db: Database, earning: Tenant) -> None:
    kept = orders.record_order(
        db,
        earning.principal,
        OrderCommand(
            external_id="L-1",
            total="3",
            currency="USD",
            lines=[{"sku": "A", "quantity": 2, "price": "1.50"}],
        ),
    )
    assert kept.lines == [{"sku": "A", "quantity": 2, "price": "1.50"}]
    for bad in ({"sku": "A"}, ["A"], [{"n": i} for i in range(501)]):
        with pytest.raises(DomainError) as caught:
            orders.record_order(
                db,
                earning.principal,
                OrderCommand(external_id="L-2", total="3", currency="USD", lines=bad),
            )
        assert caught.value.field == "lines"


# Refunds


def test_partial_refunds_claw_back_exact_proportional_points_and_add_up_to_all(
    db: Database, earning: Tenant
) -> None:
    contact = make_contact(db, earning)
    customer = contact.customer.uuid
    order = record(db, earning, "10.00", customer=customer)  # 20 points
    assert order.points_earned == 20

    first = _refund(db, earning, order.uuid, "R-1", "3.33")
    second = _refund(db, earning, order.uuid, "R-2", "3.33")
    last = _refund(db, earning, order.uuid, "R-3", None)  # the rest: 3.34

    # Cumulative shares: floor(20 × 3.33 / 10) = 6, floor(20 × 6.66 / 10) = 13, then all 20.
    assert [r.refund.points_clawed_back for r in (first, second, last)] == [6, 7, 7]
    assert last.refund.amount == 334
    assert last.order.refunded == 1000
    assert last.order.points_clawed_back == 20
    assert last.order.clawback_shortfall == 0
    assert balances(db, earning, customer) == (0, 0)
    assert order_entries(db, earning, order.uuid) == [
        ("ADD", "LOCAL", 20, "ORDER"),
        ("REMOVE", "LOCAL", 6, "ORDER_REFUND"),
        ("REMOVE", "LOCAL", 7, "ORDER_REFUND"),
        ("REMOVE", "LOCAL", 7, "ORDER_REFUND"),
    ]
    assert verify_ledger(db).ok


def test_a_refund_takes_what_points_are_left_and_records_the_shortfall(
    db: Database, earning: Tenant
) -> None:
    contact = make_contact(db, earning)
    customer = contact.customer.uuid
    order = record(db, earning, "50.00", customer=customer)  # 100 points
    _spend_points(db, earning, contact.wallet_uuid, "70")

    result = _refund(db, earning, order.uuid, "R-1", "50.00")

    assert result.refund.points_clawed_back == 30
    assert result.refund.clawback_shortfall == 70
    assert result.order.points_clawed_back == 30
    assert result.order.clawback_shortfall == 70
    assert balances(db, earning, customer) == (0, 0)
    assert verify_ledger(db).ok


def test_a_refund_when_every_point_is_spent_writes_no_entry(db: Database, earning: Tenant) -> None:
    contact = make_contact(db, earning)
    order = record(db, earning, "5.00", customer=contact.customer.uuid)  # 10 points
    _spend_points(db, earning, contact.wallet_uuid, "10")

    result = _refund(db, earning, order.uuid, "R-1", "2.50")

    assert (result.refund.points_clawed_back, result.refund.clawback_shortfall) == (0, 5)
    assert order_entries(db, earning, order.uuid) == [("ADD", "LOCAL", 10, "ORDER")]


def test_credit_used_comes_back_in_proportion_and_only_once(db: Database, earning: Tenant) -> None:
    contact = make_contact(db, earning)
    customer = contact.customer.uuid
    fund(db, earning, contact.wallet_uuid, "10")
    order = record(db, earning, "30.00", customer=customer, credit_used="10.00")  # 60 points

    half = _refund(db, earning, order.uuid, "R-1", "15.00")
    replay = _refund(db, earning, order.uuid, "R-1", "15.00")
    rest = _refund(db, earning, order.uuid, "R-2", None)

    assert half.refund.credit_returned == 500
    assert replay.refund == half.refund
    assert rest.refund.credit_returned == 500
    assert rest.order.credit_returned == 1000
    assert balances(db, earning, customer) == (1000, 0)
    assert order_entries(db, earning, order.uuid) == [
        ("SPEND", "GLOBAL", 1000, "ORDER"),
        ("ADD", "LOCAL", 60, "ORDER"),
        ("REMOVE", "LOCAL", 30, "ORDER_REFUND"),
        ("ADD", "GLOBAL", 500, "ORDER_REFUND"),
        ("REMOVE", "LOCAL", 30, "ORDER_REFUND"),
        ("ADD", "GLOBAL", 500, "ORDER_REFUND"),
    ]


def test_a_replayed_refund_changes_nothing_and_other_amounts_conflict(
    db: Database, earning: Tenant
) -> None:
    contact = make_contact(db, earning)
    order = record(db, earning, "10.00", customer=contact.customer.uuid)
    first = _refund(db, earning, order.uuid, "R-1", "4.00")
    before = snapshot(db, earning.uuid)

    again = _refund(db, earning, order.uuid, "R-1", "4.00")
    without_amount = _refund(db, earning, order.uuid, "R-1", None)
    with pytest.raises(DomainError) as caught:
        _refund(db, earning, order.uuid, "R-1", "5.00")

    assert again.refund == first.refund == without_amount.refund
    assert caught.value.code == "REFUND_CONFLICT"
    assert snapshot(db, earning.uuid) == before


def test_refunding_more_than_was_paid_is_refused_and_changes_nothing(
    db: Database, earning: Tenant
) -> None:
    contact = make_contact(db, earning)
    order = record(db, earning, "10.00", customer=contact.customer.uuid)
    _refund(db, earning, order.uuid, "R-1", "6.00")
    before = snapshot(db, earning.uuid)

    with pytest.raises(DomainError) as too_much:
        _refund(db, earning, order.uuid, "R-2", "4.01")
    _refund(db, earning, order.uuid, "R-3", "4.00")
    with pytest.raises(DomainError) as nothing_left:
        _refund(db, earning, order.uuid, "R-4", None)

    assert too_much.value.code == "REFUND_EXCEEDS_PAID"
    assert "4.00" in too_much.value.message
    assert nothing_left.value.code == "REFUND_EXCEEDS_PAID"
    assert snapshot(db, earning.uuid) != before  # only R-3 was applied
    with db.read() as connection:
        assert orders.get_order(connection, earning.principal, order.uuid).refunded == 1000


@pytest.mark.parametrize("amount", ["0", "-1", "0.001", "abc", "1e20"])
def test_bad_refund_amounts_are_refused(db: Database, earning: Tenant, amount: str) -> None:
    order = record(db, earning, "10.00")
    before = snapshot(db, earning.uuid)

    with pytest.raises(DomainError) as caught:
        _refund(db, earning, order.uuid, "R-1", amount)

    assert caught.value.field == "amount"
    assert snapshot(db, earning.uuid) == before


def test_only_completed_orders_can_be_refunded(db: Database, earning: Tenant) -> None:
    order = record(db, earning, "10.00", status="PENDING")

    with pytest.raises(DomainError) as caught:
        _refund(db, earning, order.uuid, "R-1", "1.00")

    assert caught.value.code == "ORDER_NOT_COMPLETED"


def test_refunding_another_accounts_order_is_not_found(
    db: Database, earning: Tenant, other_tenant: Tenant
) -> None:
    theirs = record(db, other_tenant, "10.00")
    before = snapshot(db, other_tenant.uuid)

    for order_uuid in (theirs.uuid, "nope"):
        with pytest.raises(NotFound) as caught:
            _refund(db, earning, order_uuid, "R-1", "1.00")
        assert caught.value.field == "orderUuid"

    assert snapshot(db, other_tenant.uuid) == before


def test_concurrent_refunds_never_exceed_what_was_paid(db: Database, earning: Tenant) -> None:
    contact = make_contact(db, earning)
    order = record(db, earning, "10.00", customer=contact.customer.uuid)
    outcomes: list[str] = []

    def refund(index: int) -> None:
        try:
            _refund(db, earning, order.uuid, f"R-{index}", "3.00")
            outcomes.append("ok")
        except DomainError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=refund, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["REFUND_EXCEEDS_PAID"] * 3 + ["ok"] * 3
    with db.read() as connection:
        final = orders.get_order(connection, earning.principal, order.uuid)
    assert final.refunded == 900
    assert final.points_clawed_back == 18
    assert balances(db, earning, contact.customer.uuid) == (0, 2)
    assert verify_ledger(db).ok


# Per customer


def test_orders_count_and_expenses_count_completed_orders_less_refunds(
    db: Database, earning: Tenant
) -> None:
    contact = make_contact(db, earning)
    other = make_contact(db, earning)
    customer = contact.customer.uuid
    first = record(db, earning, "10.00", customer=customer)
    record(db, earning, "20.50", customer=customer)
    record(db, earning, "99.00", customer=customer, status="PENDING")
    record(db, earning, "5.00", customer=customer, status="CANCELLED")
    _refund(db, earning, first.uuid, "R-1", "2.25")

    with db.read() as connection:
        stats = orders.order_stats_for_customers(
            connection, earning.principal, [customer, other.customer.uuid]
        )

    assert stats[customer].orders_count == 2
    assert stats[customer].expenses == 1000 + 2050 - 225
    assert stats[other.customer.uuid].orders_count == 0
    assert stats[other.customer.uuid].expenses == 0


def test_purchase_history_is_newest_first_and_paginated_per_customer(
    db: Database, earning: Tenant
) -> None:
    alice = make_contact(db, earning).customer.uuid
    bob = make_contact(db, earning).customer.uuid
    store = make_store(db, earning)
    placed = [record(db, earning, f"{n}.00", customer=alice).uuid for n in range(1, 5)]
    at_store = record(db, earning, "7.00", customer=bob, store=store.uuid).uuid
    record(db, earning, "8.00", customer=bob)

    with db.read() as connection:
        page = orders.orders_for_customers(
            connection, earning.principal, [alice, bob], limit=2, offset=1
        )
        filtered = orders.orders_for_customers(
            connection, earning.principal, [bob], limit=10, offset=0, store_uuid=store.uuid
        )
        everything = orders.list_orders(connection, earning.principal, limit=3)

    assert [order.uuid for order in page[alice]] == [placed[2], placed[1]]
    assert [order.total for order in page[bob]] == [700]
    assert [order.uuid for order in filtered[bob]] == [at_store]
    assert [order.total for order in everything] == [800, 700, 400]


# Stores


def test_a_store_with_the_same_external_id_is_the_same_store(db: Database, tenant: Tenant) -> None:
    first = make_store(db, tenant, name="Main", external_id="S-1", points_multiplier="1.50")
    again = make_store(db, tenant, name="Main", external_id="S-1", points_multiplier="1.5")

    with pytest.raises(DomainError) as caught:
        make_store(db, tenant, name="Elsewhere", external_id="S-1")

    assert again == first
    assert first.points_multiplier == Decimal("1.5")
    assert caught.value.code == "STORE_EXISTS"
    with db.read() as connection:
        assert stores.list_stores(connection, tenant.principal) == [first]


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (StoreCommand(name=""), "name"),
        (StoreCommand(name="x" * 201), "name"),
        (StoreCommand(name="A", external_id=""), "externalId"),
        (StoreCommand(name="A", points_multiplier="0"), "pointsMultiplier"),
        (StoreCommand(name="A", points_multiplier="-2"), "pointsMultiplier"),
        (StoreCommand(name="A", idempotency_key=""), "idempotencyKey"),
    ],
)
def test_bad_stores_are_refused(
    db: Database, tenant: Tenant, command: StoreCommand, field: str
) -> None:
    before = snapshot(db, tenant.uuid)

    with pytest.raises(DomainError) as caught:
        stores.create_store(db, tenant.principal, command)

    assert caught.value.field == field
    assert snapshot(db, tenant.uuid) == before


def test_a_store_created_with_an_idempotency_key_is_created_once(
    db: Database, tenant: Tenant
) -> None:
    command = StoreCommand(name="Kiosk", idempotency_key="store-1")

    first = stores.create_store(db, tenant.principal, command)
    again = stores.create_store(db, tenant.principal, command)
    with pytest.raises(DomainError) as caught:
        stores.create_store(
            db, tenant.principal, StoreCommand(name="Other", idempotency_key="store-1")
        )

    assert again == first
    assert caught.value.code == "IDEMPOTENCY_KEY_REUSED"


def test_guest_orders_have_no_customer_and_earn_nothing(db: Database, earning: Tenant) -> None:
    order = record(db, earning, "10.00")
    refund = _refund(db, earning, order.uuid, "R-1", None)

    assert order.customer_uuid is None
    assert order.points_earned == 0
    assert refund.refund.points_clawed_back == 0
    assert refund.refund.clawback_shortfall == 0


def test_entries_written_by_orders_keep_the_credit_types_apart(
    db: Database, earning: Tenant
) -> None:
    contact = make_contact(db, earning)
    fund(db, earning, contact.wallet_uuid, "3")
    order = record(db, earning, "3.00", customer=contact.customer.uuid, credit_used="3.00")

    kinds = {(action, kind) for action, kind, _, _ in order_entries(db, earning, order.uuid)}

    assert kinds == {(Action.SPEND.value, CreditType.GLOBAL.value), ("ADD", "LOCAL")}
