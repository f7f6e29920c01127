"""Promotion rewards: points multipliers apply to orders by themselves; credit and codes are
claimed, once per contact, only while the contact qualifies."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import DomainError
from patron.orders import service as orders
from patron.orders.promotions import repository as promotion_rows
from patron.orders.promotions import service as promotions
from patron.wallets.verify import verify_ledger
from tests.support.client import Api
from tests.support.orders import balances, make_promotion, make_store, record
from tests.support.tenants import Tenant, make_contact

CLAIM = """
mutation Claim($claim: ClaimPromotionInput!) {
  claimPromotion(claim: $claim) {
    success
    creditEntry { action creditType amount reason }
    redemptionCode { rewardValue status creditType }
    errors
    userErrors { field code message }
  }
}
"""


def _earning(db: Database, tenant: Tenant, rate: str = "1") -> None:
    orders.set_earning_rule(db, tenant.principal, rate)


def test_a_points_multiplier_promotion_multiplies_what_an_order_earns(
    db: Database, tenant: Tenant
) -> None:
    _earning(db, tenant)
    contact = make_contact(db, tenant).customer
    make_promotion(db, tenant, reward="POINTS_MULTIPLIER", reward_value="3")

    record(db, tenant, "10.00", customer=contact.uuid)

    assert balances(db, tenant, contact.uuid) == (0, 30)


def test_the_best_multiplier_wins_and_combines_with_the_stores(
    db: Database, tenant: Tenant
) -> None:
    _earning(db, tenant)
    contact = make_contact(db, tenant).customer
    store = make_store(db, tenant, points_multiplier="1.5")
    make_promotion(db, tenant, name="Double", reward_value="2")
    make_promotion(db, tenant, name="Triple", reward_value="3")

    record(db, tenant, "10.00", customer=contact.uuid, store=store.uuid)

    assert balances(db, tenant, contact.uuid) == (0, 45)


def test_a_multiplier_outside_its_window_or_audience_does_not_apply(
    db: Database, tenant: Tenant
) -> None:
    _earning(db, tenant)
    contact = make_contact(db, tenant).customer
    make_promotion(
        db, tenant, name="Later", reward_value="5", starts_at=utcnow() + timedelta(days=1)
    )
    make_promotion(
        db, tenant, name="Big spenders", reward_value="5", audience="MIN_ORDERS", audience_value=10
    )

    record(db, tenant, "10.00", customer=contact.uuid)

    assert balances(db, tenant, contact.uuid) == (0, 10)


def test_an_order_asks_for_the_audience_rules_only_while_a_multiplier_runs(
    db: Database, tenant: Tenant
) -> None:
    """An order first asks whether any points multiplier runs at all: inactive, not yet
    started, ended and other rewards do not count; one that runs does, whoever it is for."""
    _earning(db, tenant)
    contact = make_contact(db, tenant).customer
    now = utcnow()

    def running(at: datetime) -> bool:
        with db.read() as connection:
            return promotion_rows.any_points_multiplier_running(connection, tenant.uuid, at)

    assert running(now) is False
    make_promotion(
        db,
        tenant,
        name="Gift",
        reward="FIXED_CREDIT",
        reward_value="5.00",
        reward_credit_type="GLOBAL",
    )
    make_promotion(db, tenant, name="Off", reward_value="4", active=False)
    make_promotion(db, tenant, name="Later", reward_value="4", starts_at=now + timedelta(days=1))
    assert running(now) is False
    record(db, tenant, "10.00", customer=contact.uuid)
    assert balances(db, tenant, contact.uuid) == (0, 10)

    make_promotion(db, tenant, name="Hour", reward_value="4", ends_at=now + timedelta(hours=1))
    assert (running(now), running(now + timedelta(hours=2))) == (True, False)
    record(db, tenant, "10.00", customer=contact.uuid)
    assert balances(db, tenant, contact.uuid) == (0, 50)

    make_promotion(
        db, tenant, name="Regulars", reward_value="9", audience="MIN_ORDERS", audience_value=10
    )
    assert running(now + timedelta(hours=2)) is True  # though this contact does not qualify
    record(db, tenant, "10.00", customer=contact.uuid)
    assert balances(db, tenant, contact.uuid) == (0, 90)


def test_claiming_fixed_credit_adds_it_once(api: Api, db: Database, tenant: Tenant) -> None:
    contact = make_contact(db, tenant).customer
    promotion = make_promotion(
        db,
        tenant,
        name="Welcome",
        reward="FIXED_CREDIT",
        reward_value="5.00",
        reward_credit_type="GLOBAL",
    )
    claim = {"claim": {"promotionUuid": promotion.uuid, "contactUuid": contact.uuid}}

    first = api.data(CLAIM, claim, token=tenant.token)["claimPromotion"]
    second = api.data(CLAIM, claim, token=tenant.token)["claimPromotion"]

    assert first["success"] is True
    assert first["creditEntry"] == {
        "action": "ADD",
        "creditType": "GLOBAL",
        "amount": pytest.approx(5),
        "reason": "MANUAL",
    }
    assert str(first["creditEntry"]["amount"]) == "5.00"
    assert second["success"] is False
    assert second["userErrors"][0]["code"] == "ALREADY_CLAIMED"
    assert balances(db, tenant, contact.uuid) == (500, 0)
    assert verify_ledger(db).ok


def test_claiming_a_code_reward_grants_the_credit_held_by_a_new_code(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact = make_contact(db, tenant).customer
    promotion = make_promotion(
        db,
        tenant,
        name="Gift",
        reward="REDEMPTION_CODE",
        reward_value="100",
        reward_credit_type="LOCAL",
    )

    claimed = api.data(
        CLAIM,
        {"claim": {"promotionUuid": promotion.uuid, "contactUuid": contact.uuid}},
        token=tenant.token,
    )["claimPromotion"]

    assert claimed["success"] is True
    assert claimed["creditEntry"] is None
    assert claimed["redemptionCode"] == {
        "rewardValue": 100,
        "status": "ACTIVE",
        "creditType": "LOCAL",
    }
    assert balances(db, tenant, contact.uuid) == (0, 100)
    wallet = api.data(
        "query($e: String) { account { contacts(email: $e) { wallet { localCreditBalance "
        "localCreditHeld } } } }",
        {"e": contact.email},
        token=tenant.token,
    )["account"]["contacts"][0]["wallet"]
    assert wallet == {"localCreditBalance": 0, "localCreditHeld": 100}


def test_a_contact_who_does_not_qualify_cannot_claim_and_nothing_changes(
    db: Database, tenant: Tenant
) -> None:
    contact = make_contact(db, tenant).customer
    promotion = make_promotion(
        db,
        tenant,
        name="Loyal",
        reward="FIXED_CREDIT",
        reward_value="5.00",
        reward_credit_type="GLOBAL",
        audience="MIN_ORDERS",
        audience_value=3,
    )

    with pytest.raises(DomainError) as refused:
        promotions.claim_promotion(db, tenant.principal, promotion.uuid, contact.uuid)

    assert refused.value.code == "NOT_ELIGIBLE"
    assert balances(db, tenant, contact.uuid) == (0, 0)


def test_a_multiplier_promotion_is_not_claimed(db: Database, tenant: Tenant) -> None:
    contact = make_contact(db, tenant).customer
    promotion = make_promotion(db, tenant)

    with pytest.raises(DomainError) as refused:
        promotions.claim_promotion(db, tenant.principal, promotion.uuid, contact.uuid)

    assert refused.value.code == "INVALID"
    assert "applies to orders by itself" in refused.value.message


def test_claims_are_scoped_to_the_account_and_the_scope(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    contact = make_contact(db, tenant).customer
    promotion = make_promotion(
        db,
        tenant,
        name="Welcome",
        reward="FIXED_CREDIT",
        reward_value="5.00",
        reward_credit_type="GLOBAL",
    )
    claim = {"claim": {"promotionUuid": promotion.uuid, "contactUuid": contact.uuid}}
    reader = tenant.with_scope(db, "read")

    unauthenticated = api.post("/graphql", {"query": CLAIM, "variables": claim})
    foreign = api.data(CLAIM, claim, token=other_tenant.token)["claimPromotion"]
    read_only = api.data(CLAIM, claim, token=reader.token)["claimPromotion"]

    assert unauthenticated.status_code == 401
    assert foreign["success"] is False
    assert foreign["userErrors"][0]["code"] == "NOT_FOUND"
    assert read_only["success"] is False
    assert read_only["userErrors"][0]["code"] == "FORBIDDEN"
    assert balances(db, tenant, contact.uuid) == (0, 0)


def test_malformed_ids_are_not_found(db: Database, tenant: Tenant) -> None:
    with pytest.raises(DomainError) as refused:
        promotions.claim_promotion(db, tenant.principal, "nope\x00", "also-not")

    assert refused.value.code == "NOT_FOUND"
