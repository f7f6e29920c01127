"""What each balance means, as the schema and the README say it: available, held, ledger."""

from __future__ import annotations

from decimal import Decimal

from patron.api.app import printed_schema
from patron.core.db import Database
from tests.support.client import Api
from tests.support.tenants import Tenant, make_contact

ADD = """
mutation($w: String!) { addCreditEntry(creditEntry: {action: ADD, creditType: GLOBAL,
  amount: "25.00", walletUuid: $w}) { success } }
"""
HOLD = """
mutation($w: String!) { createRedemption(redemption: {walletUuid: $w, creditType: GLOBAL,
  rewardValue: "10.00"}) { success redemptionCodes { code } } }
"""
REDEEM = "mutation($c: String!) { redeemRedemption(code: $c) { success } }"
WALLET = """
query($u: String) { account { contacts(uuid: $u) { wallet {
  globalCreditBalance globalCreditHeld creditEntries(limit: 1) { balanceAfter } } } } }
"""


def numbers(api: Api, tenant: Tenant, contact: str) -> tuple[Decimal, Decimal, Decimal]:
    [found] = api.data(WALLET, {"u": contact}, token=tenant.token)["account"]["contacts"]
    wallet = found["wallet"]
    [last] = wallet["creditEntries"]
    return wallet["globalCreditBalance"], wallet["globalCreditHeld"], last["balanceAfter"]


def test_the_readme_example_of_available_held_and_ledger_balance(
    api: Api, db: Database, tenant: Tenant
) -> None:
    created = make_contact(db, tenant)
    contact, wallet = created.customer.uuid, created.wallet_uuid

    api.data(ADD, {"w": wallet}, token=tenant.token)
    added = numbers(api, tenant, contact)
    [code] = api.data(HOLD, {"w": wallet}, token=tenant.token)["createRedemption"][
        "redemptionCodes"
    ]
    held = numbers(api, tenant, contact)
    api.data(REDEEM, {"c": code["code"]}, token=tenant.token)
    redeemed = numbers(api, tenant, contact)

    assert added == (Decimal("25.00"), Decimal("0.00"), Decimal("25.00"))
    assert held == (Decimal("15.00"), Decimal("10.00"), Decimal("25.00"))
    assert redeemed == (Decimal("15.00"), Decimal("0.00"), Decimal("15.00"))


def test_the_schema_says_what_each_balance_means() -> None:
    sdl = printed_schema()

    assert "GLOBAL credit (money) available to spend now" in sdl
    assert "GLOBAL credit reserved by open redemption codes" in sdl
    assert "It includes credit held by open redemption codes" in sdl
