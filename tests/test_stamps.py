"""Stamp cards in the core: driven by orders, once per order, a reward code per full card."""

from __future__ import annotations

from decimal import Decimal

import pytest

from patron.core.db import Database
from patron.core.errors import Forbidden, InvalidInput
from patron.orders import service as orders
from patron.orders.models import OrderCommand
from patron.orders.stamps import service as stamps
from patron.orders.stamps.models import StampProgramCommand
from patron.redemptions import service as redemptions
from patron.redemptions.models import Redemption
from tests.support.orders import balances, record
from tests.support.tenants import Tenant, make_contact


def _program(db: Database, tenant: Tenant, required: int = 2, **fields: object) -> None:
    stamps.set_stamp_program(
        db,
        tenant.principal,
        StampProgramCommand(
            stamps_required=required, reward_credit_type="GLOBAL", reward_value="4", **fields
        ),
    )


def _card(db: Database, tenant: Tenant, customer_uuid: str) -> tuple[int, int]:
    with db.read() as connection:
        card = stamps.cards_for(connection, tenant.principal, [customer_uuid])[customer_uuid]
    return card.stamps, card.rewards


def _rewards(db: Database, tenant: Tenant, wallet_uuid: str) -> list[Redemption]:
    with db.read() as connection:
        found = redemptions.codes_for_wallets(
            connection, tenant.principal, [wallet_uuid], limit=50, offset=0
        )[wallet_uuid]
    return [code for code in found if code.source == "STAMPS"]


def test_an_order_stamps_when_it_completes_not_before(db: Database, tenant: Tenant) -> None:
    _program(db, tenant)
    contact = make_contact(db, tenant)
    customer = contact.customer.uuid

    def order(status: str) -> None:
        orders.record_order(
            db,
            tenant.principal,
            OrderCommand(
                external_id="A-1",
                total="10.00",
                currency="USD",
                customer_uuid=customer,
                status=status,
            ),
        )

    order("PENDING")
    pending = _card(db, tenant, customer)
    order("COMPLETED")
    order("COMPLETED")

    assert pending == (0, 0)
    assert _card(db, tenant, customer) == (1, 0)


def test_a_full_card_becomes_a_code_holding_the_reward(db: Database, tenant: Tenant) -> None:
    _program(db, tenant, required=2)
    contact = make_contact(db, tenant)
    customer = contact.customer.uuid

    record(db, tenant, "3.00", customer=customer)
    record(db, tenant, "3.00", customer=customer)
    record(db, tenant, "3.00", customer=customer)

    rewards = _rewards(db, tenant, contact.wallet_uuid)
    assert _card(db, tenant, customer) == (1, 1)
    assert len(rewards) == 1
    assert balances(db, tenant, customer) == (400, 0)
    redeemed = redemptions.redeem_code(db, tenant.principal, rewards[0].code)
    assert redeemed.entry.amount == 400
    assert balances(db, tenant, customer) == (0, 0)


def test_small_orders_cancelled_orders_and_orders_without_a_customer_do_not_stamp(
    db: Database, tenant: Tenant
) -> None:
    _program(db, tenant, required=1, min_order_total=Decimal("5.00"))
    contact = make_contact(db, tenant)
    customer = contact.customer.uuid

    record(db, tenant, "4.99", customer=customer)
    record(db, tenant, "50.00", customer=customer, status="CANCELLED")
    record(db, tenant, "50.00")

    assert _card(db, tenant, customer) == (0, 0)
    assert _rewards(db, tenant, contact.wallet_uuid) == []


def test_without_a_program_nothing_is_stamped_and_stopping_one_keeps_the_cards(
    db: Database, tenant: Tenant
) -> None:
    contact = make_contact(db, tenant)
    customer = contact.customer.uuid
    record(db, tenant, "9.00", customer=customer)
    _program(db, tenant, required=3)
    record(db, tenant, "9.00", customer=customer)

    stamps.set_stamp_program(db, tenant.principal, None)
    record(db, tenant, "9.00", customer=customer)

    assert _card(db, tenant, customer) == (1, 0)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"stamps_required": 0}, "stampsRequired"),
        ({"stamps_required": 101}, "stampsRequired"),
        ({"reward_value": "0"}, "rewardValue"),
        ({"reward_value": "1.001"}, "rewardValue"),
        ({"reward_credit_type": "BITCOIN"}, "rewardCreditType"),
        ({"min_order_total": "-1"}, "minOrderTotal"),
        ({"reward_expires_days": 0}, "rewardExpiresDays"),
    ],
)
def test_bad_programs_are_refused(
    db: Database, tenant: Tenant, fields: dict[str, object], field: str
) -> None:
    given: dict[str, object] = {
        "stamps_required": 2,
        "reward_credit_type": "GLOBAL",
        "reward_value": "4",
        **fields,
    }

    with pytest.raises(InvalidInput) as refused:
        stamps.set_stamp_program(db, tenant.principal, StampProgramCommand(**given))  # type: ignore[arg-type]

    assert refused.value.field == field
    with db.read() as connection:
        assert stamps.stamp_program(connection, tenant.principal) is None


def test_only_an_admin_sets_the_program(db: Database, tenant: Tenant) -> None:
    writer = tenant.with_scope(db, "write")

    with pytest.raises(Forbidden):
        stamps.set_stamp_program(
            db,
            writer.principal,
            StampProgramCommand(stamps_required=2, reward_credit_type="LOCAL", reward_value="5"),
        )
