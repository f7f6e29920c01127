"""Promotions in the core: audience rules, windows and stores, evaluated by the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event

from patron.core.db import Database
from patron.core.errors import DomainError, Forbidden, NotFound
from patron.orders.promotions import service as promotions
from patron.orders.promotions.models import Audience, PromotionChanges, PromotionCommand, Reward
from patron.wallets.models import EntryCommand
from patron.wallets.service import post_entry
from tests.support.orders import make_promotion, make_store, record, snapshot
from tests.support.tenants import Tenant, fund, make_contact

NOW = datetime.now(UTC)


def _available(
    db: Database, tenant: Tenant, customer: str, store: str | None = None, **kw: Any
) -> list[str]:
    with db.read() as connection:
        found = promotions.available_promotions(
            connection, tenant.principal, customer, store_uuid=store, **kw
        )
    return [promotion.name for promotion in found]


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


# Audience


def test_everyone_sees_an_active_promotion_inside_its_window(db: Database, tenant: Tenant) -> None:
    customer = make_contact(db, tenant).customer.uuid
    make_promotion(db, tenant, name="Open")
    make_promotion(
        db,
        tenant,
        name="Window",
        starts_at=NOW - timedelta(days=1),
        ends_at=NOW + timedelta(days=1),
    )
    make_promotion(db, tenant, name="Later", starts_at=NOW + timedelta(days=1))
    make_promotion(db, tenant, name="Switched off", active=False)

    assert _available(db, tenant, customer) == ["Open", "Window"]
    assert _available(db, tenant, customer, now=NOW + timedelta(days=2)) == ["Open", "Later"]


def test_min_points_counts_what_can_be_spent_now(db: Database, tenant: Tenant) -> None:
    rich = make_contact(db, tenant)
    poor = make_contact(db, tenant)
    fund(db, tenant, rich.wallet_uuid, 100, "LOCAL")
    fund(db, tenant, poor.wallet_uuid, 99, "LOCAL")
    fund(db, tenant, poor.wallet_uuid, 500, "GLOBAL")
    make_promotion(db, tenant, name="VIP", audience="MIN_POINTS", audience_value=100)

    assert _available(db, tenant, rich.customer.uuid) == ["VIP"]
    assert _available(db, tenant, poor.customer.uuid) == []


def test_expired_points_do_not_count_even_before_the_sweep(db: Database, tenant: Tenant) -> None:
    contact = make_contact(db, tenant)
    fund(db, tenant, contact.wallet_uuid, 60, "LOCAL")
    post_entry(
        db,
        tenant.principal,
        EntryCommand(
            wallet_uuid=contact.wallet_uuid,
            action="ADD",
            credit_type="LOCAL",
            amount=Decimal(50),
            expires_at=NOW + timedelta(hours=1),
        ),
    )
    make_promotion(db, tenant, name="VIP", audience="MIN_POINTS", audience_value=100)

    assert _available(db, tenant, contact.customer.uuid) == ["VIP"]
    assert _available(db, tenant, contact.customer.uuid, now=NOW + timedelta(hours=2)) == []


def test_min_orders_counts_completed_orders_only(db: Database, tenant: Tenant) -> None:
    loyal = make_contact(db, tenant).customer.uuid
    new = make_contact(db, tenant).customer.uuid
    record(db, tenant, "1.00", customer=loyal)
    record(db, tenant, "1.00", customer=loyal)
    record(db, tenant, "1.00", customer=new)
    record(db, tenant, "1.00", customer=new, status="PENDING")
    record(db, tenant, "1.00", customer=new, status="CANCELLED")
    make_promotion(db, tenant, name="Regulars", audience="MIN_ORDERS", audience_value=2)

    assert _available(db, tenant, loyal) == ["Regulars"]
    assert _available(db, tenant, new) == []


def test_birthday_month_matches_the_current_month(db: Database, tenant: Tenant) -> None:
    march = make_contact(db, tenant, birthday=date(1990, 3, 14)).customer.uuid
    april = make_contact(db, tenant, birthday=date(1985, 4, 1)).customer.uuid
    unknown = make_contact(db, tenant).customer.uuid
    make_promotion(db, tenant, name="Happy birthday", audience="BIRTHDAY_MONTH")
    in_march = datetime(2027, 3, 31, 23, 0, tzinfo=UTC)

    assert _available(db, tenant, march, now=in_march) == ["Happy birthday"]
    assert _available(db, tenant, april, now=in_march) == []
    assert _available(db, tenant, unknown, now=in_march) == []
    assert _available(db, tenant, april, now=datetime(2027, 4, 1, tzinfo=UTC)) == ["Happy birthday"]


# Stores


def test_a_store_filter_shows_promotions_for_every_store_and_for_that_store(
    db: Database, tenant: Tenant
) -> None:
    customer = make_contact(db, tenant).customer.uuid
    north = make_store(db, tenant, name="North")
    south = make_store(db, tenant, name="South")
    make_promotion(db, tenant, name="Everywhere")
    make_promotion(db, tenant, name="North only", store_uuids=[north.uuid])
    make_promotion(db, tenant, name="Both", store_uuids=[north.uuid, south.uuid])

    assert _available(db, tenant, customer, north.uuid) == ["Everywhere", "North only", "Both"]
    assert _available(db, tenant, customer, south.uuid) == ["Everywhere", "Both"]
    assert _available(db, tenant, customer) == ["Everywhere", "North only", "Both"]


def test_unknown_and_other_accounts_customers_and_stores_are_not_found(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = make_contact(db, tenant).customer.uuid
    theirs = make_contact(db, other_tenant).customer.uuid
    their_store = make_store(db, other_tenant)
    make_promotion(db, other_tenant, name="Theirs")

    for customer in (theirs, "nope"):
        with pytest.raises(NotFound) as caught:
            _available(db, tenant, customer)
        assert caught.value.field == "contactUuid"
    for store in (their_store.uuid, "nope"):
        with pytest.raises(NotFound) as caught:
            _available(db, tenant, mine, store)
        assert caught.value.field == "storeUuid"
    assert _available(db, tenant, mine) == []


def test_available_promotions_is_one_statement_for_many_customers(
    db: Database, tenant: Tenant
) -> None:
    customers = [make_contact(db, tenant).customer.uuid for _ in range(5)]
    fund(db, tenant, make_contact(db, tenant).wallet_uuid, 1, "LOCAL")
    for index in range(10):
        make_promotion(db, tenant, name=f"P{index}", audience="MIN_ORDERS", audience_value=1)
    make_promotion(db, tenant, name="All")
    store = make_store(db, tenant)
    record(db, tenant, "1.00", customer=customers[0])

    with db.read() as connection, _statements(db) as seen:
        found = promotions.available_promotions_for_customers(
            connection, tenant.principal, customers, store_uuid=store.uuid
        )

    assert len(seen) == 1
    assert len(found[customers[0]]) == 11
    assert [p.name for p in found[customers[1]]] == ["All"]


# Create and update


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"description": "x" * 2001}, "description"),
        ({"audience": "VIPS"}, "audience"),
        ({"audience": "MIN_POINTS"}, "audienceValue"),
        ({"audience": "MIN_ORDERS", "audience_value": 0}, "audienceValue"),
        ({"audience": "MIN_ORDERS", "audience_value": "1.5"}, "audienceValue"),
        ({"audience": "EVERYONE", "audience_value": 3}, "audienceValue"),
        ({"reward": "FREE_LUNCH"}, "reward"),
        ({"reward_value": "0"}, "rewardValue"),
        ({"reward_value": "-1"}, "rewardValue"),
        ({"reward_credit_type": "GLOBAL"}, "rewardCreditType"),
        ({"reward": "FIXED_CREDIT", "reward_value": "5"}, "rewardCreditType"),
        (
            {"reward": "FIXED_CREDIT", "reward_value": "5.001", "reward_credit_type": "GLOBAL"},
            "rewardValue",
        ),
        (
            {"reward": "REDEMPTION_CODE", "reward_value": "5", "reward_credit_type": "COINS"},
            "rewardCreditType",
        ),
        ({"ends_at": NOW - timedelta(minutes=1)}, "endsAt"),
        ({"starts_at": NOW + timedelta(days=2), "ends_at": NOW + timedelta(days=1)}, "endsAt"),
        ({"starts_at": datetime(2030, 1, 1)}, "startsAt"),
        ({"store_uuids": []}, "storeUuids"),
        ({"store_uuids": ["nope"]}, "storeUuids"),
    ],
)
def test_bad_promotions_are_refused_with_the_field_and_change_nothing(
    db: Database, tenant: Tenant, fields: dict[str, Any], field: str
) -> None:
    given: dict[str, Any] = {"name": "Promo", "reward": "POINTS_MULTIPLIER", "reward_value": "2"}
    before = snapshot(db, tenant.uuid)

    with pytest.raises(DomainError) as caught:
        promotions.create_promotion(db, tenant.principal, PromotionCommand(**{**given, **fields}))

    assert caught.value.field == field
    assert snapshot(db, tenant.uuid) == before


def test_a_promotion_cannot_name_another_accounts_store(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = make_store(db, other_tenant)
    before = snapshot(db, tenant.uuid)

    with pytest.raises(NotFound) as caught:
        make_promotion(db, tenant, store_uuids=[theirs.uuid])

    assert caught.value.field == "storeUuids"
    assert snapshot(db, tenant.uuid) == before


def test_rewards_are_kept_exactly(db: Database, tenant: Tenant) -> None:
    multiplier = make_promotion(db, tenant, reward_value="1.50")
    credit = make_promotion(
        db, tenant, reward="FIXED_CREDIT", reward_value="5.25", reward_credit_type="GLOBAL"
    )
    code = make_promotion(
        db, tenant, reward="REDEMPTION_CODE", reward_value=300, reward_credit_type="LOCAL"
    )

    assert (multiplier.reward, multiplier.reward_multiplier) == (
        Reward.POINTS_MULTIPLIER,
        Decimal("1.5"),
    )
    assert (credit.reward_amount, credit.reward_credit_type) == (525, "GLOBAL")
    assert (code.reward_amount, code.reward_credit_type) == (300, "LOCAL")


def test_updating_changes_only_the_fields_given(db: Database, tenant: Tenant) -> None:
    store = make_store(db, tenant)
    created = make_promotion(
        db,
        tenant,
        name="Old",
        description="Kept",
        audience="MIN_POINTS",
        audience_value=10,
        store_uuids=[store.uuid],
        reward="FIXED_CREDIT",
        reward_value="2.50",
        reward_credit_type="GLOBAL",
    )

    updated = promotions.update_promotion(
        db, tenant.principal, created.uuid, PromotionChanges(name="New", active=False)
    )

    assert updated.name == "New"
    assert updated.active is False
    assert (updated.description, updated.audience, updated.audience_value) == (
        "Kept",
        Audience.MIN_POINTS,
        10,
    )
    assert updated.store_uuids == (store.uuid,)
    assert (updated.reward_amount, updated.reward_credit_type) == (250, "GLOBAL")
    assert updated.updated_at > created.updated_at


def test_updating_the_audience_or_the_stores(db: Database, tenant: Tenant) -> None:
    store = make_store(db, tenant)
    created = make_promotion(db, tenant, audience="MIN_ORDERS", audience_value=3)

    to_everyone = promotions.update_promotion(
        db, tenant.principal, created.uuid, PromotionChanges(audience="EVERYONE")
    )
    to_store = promotions.update_promotion(
        db, tenant.principal, created.uuid, PromotionChanges(store_uuids=[store.uuid])
    )
    to_all = promotions.update_promotion(
        db, tenant.principal, created.uuid, PromotionChanges(store_uuids=None)
    )
    with pytest.raises(DomainError) as caught:
        promotions.update_promotion(
            db, tenant.principal, created.uuid, PromotionChanges(audience="MIN_POINTS")
        )

    assert (to_everyone.audience, to_everyone.audience_value) == (Audience.EVERYONE, None)
    assert (to_store.all_stores, to_store.store_uuids) == (False, (store.uuid,))
    assert (to_all.all_stores, to_all.store_uuids) == (True, ())
    assert caught.value.field == "audienceValue"


def test_bad_updates_change_nothing(db: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    created = make_promotion(db, tenant)
    theirs = make_promotion(db, other_tenant)
    before = snapshot(db, tenant.uuid)
    other_before = snapshot(db, other_tenant.uuid)

    bad = [
        (created.uuid, PromotionChanges(ends_at=NOW - timedelta(seconds=1)), "endsAt"),
        (created.uuid, PromotionChanges(reward="FIXED_CREDIT"), "rewardValue"),
        (created.uuid, PromotionChanges(name=""), "name"),
        (theirs.uuid, PromotionChanges(name="Mine now"), "uuid"),
        ("nope", PromotionChanges(name="x"), "uuid"),
    ]
    for promotion_uuid, changes, field in bad:
        with pytest.raises(DomainError) as caught:
            promotions.update_promotion(db, tenant.principal, promotion_uuid, changes)
        assert caught.value.field == field

    assert snapshot(db, tenant.uuid) == before
    assert snapshot(db, other_tenant.uuid) == other_before


def test_writing_promotions_needs_the_write_scope(db: Database, tenant: Tenant) -> None:
    created = make_promotion(db, tenant)
    reader = tenant.with_scope(db, "read")
    before = snapshot(db, tenant.uuid)

    with pytest.raises(Forbidden):
        make_promotion(db, reader)
    with pytest.raises(Forbidden):
        promotions.update_promotion(db, reader.principal, created.uuid, PromotionChanges(name="x"))

    assert snapshot(db, tenant.uuid) == before


def test_promotions_are_listed_newest_first_with_their_stores(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    store = make_store(db, tenant)
    first = make_promotion(db, tenant, name="First", store_uuids=[store.uuid])
    second = make_promotion(db, tenant, name="Second")
    make_promotion(db, other_tenant, name="Not mine")

    with db.read() as connection:
        listed = promotions.list_promotions(connection, tenant.principal)
        page = promotions.list_promotions(connection, tenant.principal, limit=1, offset=1)

    assert listed == [second, first]
    assert page == [first]
    assert first.store_uuids == (store.uuid,)


def test_a_promotion_created_with_an_idempotency_key_is_created_once(
    db: Database, tenant: Tenant
) -> None:
    first = make_promotion(db, tenant, idempotency_key="promo-1")
    again = make_promotion(db, tenant, idempotency_key="promo-1")

    assert again == first
    with db.read() as connection:
        assert len(promotions.list_promotions(connection, tenant.principal)) == 1
