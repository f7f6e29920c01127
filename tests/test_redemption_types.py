"""createRedemption with the seed vendor's redemption types and delivery methods, written as
its client would write it: typed variables with its type names (``CreateRedemptionInput!``,
``RedemptionType!``, ``DeliveryMethod``, ``Float``), over real HTTP, on both stores.

Credit types hold credit as before; the discount, free-product and shipping types carry their
type and value, hold nothing, write no ledger entry, are redeemed once, cancelled or expired.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command

from patron.core import migrate
from patron.core.db import Database
from patron.jobs import expiry
from patron.privacy import service as privacy
from patron.redemptions import service as redemptions
from patron.redemptions.models import CodeFilter, NewRedemption
from tests.support.client import Api
from tests.support.clock import FrozenClock
from tests.support.console import Console, make_staff
from tests.support.databases import own_store
from tests.support.holds import assert_store_consistent, holds_state, make_code, redemption_row
from tests.support.ledger import ledger_state
from tests.support.server import ThreadServer
from tests.support.store import outbox
from tests.support.tenants import Tenant, fund, make_contact, new_tenant

CODE = """
  uuid code redemptionType creditType rewardValue deliveryMethod deliveryContent
  recipientName recipientEmail recipientPhone recipientExternalId
  allocated redeemed redeemedAt status expiresAt
"""
ERRORS = "errors userErrors { field code message }"

CREATE = f"""
mutation CreateRedemption($redemption: CreateRedemptionInput!) {{
  createRedemption(redemption: $redemption) {{
    success alreadyLinked redemptionCodes {{ {CODE} }} {ERRORS}
  }}
}}"""

CREATE_TYPED = f"""
mutation CreateRedemption($walletUuid: String!, $type: RedemptionType!, $value: Float,
                          $method: DeliveryMethod) {{
  createRedemption(redemption: {{walletUuid: $walletUuid, redemptionType: $type,
                                 rewardValue: $value, deliveryMethod: $method}}) {{
    ...Created
  }}
}}
fragment Created on CreateRedemptionResult {{
  success alreadyLinked redemptionCodes {{ {CODE} }} {ERRORS}
}}"""

REDEEM = f"""
mutation RedeemRedemption($code: String!) {{
  redeemRedemption(code: $code) {{
    success redemptionCode {{ {CODE} }} creditEntry {{ uuid action amount }} {ERRORS}
  }}
}}"""

CANCEL = f"""
mutation CancelRedemption($code: String!) {{
  cancelRedemption(code: $code) {{ success redemptionCode {{ status redemptionType }} {ERRORS} }}
}}"""

WALLET_CODES = """
query WalletCodes($uuid: String, $code: String!) {
  account {
    redemptionCode(code: $code) { redemptionType rewardValue status }
    contacts(uuid: $uuid) {
      wallet {
        globalCreditHeld localCreditHeld
        redemptionCodes(limit: 20) { code redemptionType rewardValue deliveryMethod status }
      }
    }
  }
}"""

# (type, value sent, value answered, delivery answered by default, credit type answered)
TYPES = [
    ("DISCOUNT_FIXED", 5.5, Decimal("5.50"), "LINK", "GLOBAL"),
    ("DISCOUNT_PERCENTAGE", 12.5, Decimal("12.5"), "LINK", "GLOBAL"),
    ("CREDIT_LOCAL_CURRENCY", 10, Decimal("10"), "CREDIT", "LOCAL"),
    ("CREDIT_GLOBAL_CURRENCY", 4.25, Decimal("4.25"), "CREDIT", "GLOBAL"),
    ("FREE_PRODUCT", None, Decimal("0"), "LINK", "GLOBAL"),
    ("FREE_SHIPPING", 0, Decimal("0"), "LINK", "GLOBAL"),
    ("DISCOUNTED_SHIPPING_FIXED", 3, Decimal("3"), "LINK", "GLOBAL"),
    ("DISCOUNTED_SHIPPING_PERCENTAGE", 100, Decimal("100"), "LINK", "GLOBAL"),
]
CREDIT_TYPES = {"CREDIT_LOCAL_CURRENCY", "CREDIT_GLOBAL_CURRENCY"}


@pytest.fixture(autouse=True)
def store_stays_consistent(db: Database) -> Iterator[None]:
    yield
    assert_store_consistent(db)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    return FrozenClock(monkeypatch)


@pytest.fixture
def wallet(db: Database, tenant: Tenant) -> str:
    """A contact's wallet with 50.00 GLOBAL and 100 LOCAL."""
    contact = make_contact(db, tenant)
    fund(db, tenant, contact.wallet_uuid, "50.00")
    fund(db, tenant, contact.wallet_uuid, "100", "LOCAL")
    return contact.wallet_uuid


def _mutate(api: Api, text: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    data = api.data(text, variables, token=token)
    (payload,) = data.values()
    result: dict[str, Any] = payload
    return result


def _entries(db: Database, tenant: Tenant) -> tuple[Any, ...]:
    """The account's wallets (balances, held) and how many entries: the ledger, no outbox."""
    state = ledger_state(db, tenant.uuid)
    return state.wallets, state.entries


def _created(api: Api, tenant: Tenant, **redemption: Any) -> dict[str, Any]:
    result = _mutate(api, CREATE, {"redemption": redemption}, tenant.token)
    assert result["success"] is True, result
    (code,) = result["redemptionCodes"]
    found: dict[str, Any] = code
    return found


def _ledger_verify(database_url: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    return subprocess.run(
        [sys.executable, "-m", "patron", "ledger", "verify", "--database", database_url],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(("kind", "sent", "answered", "delivery", "credit"), TYPES)
def test_each_redemption_type_is_created_with_its_type_and_value(
    api: Api,
    db: Database,
    tenant: Tenant,
    wallet: str,
    kind: str,
    sent: object,
    answered: Decimal,
    delivery: str,
    credit: str,
) -> None:
    before = _entries(db, tenant)

    result = _mutate(
        api,
        CREATE_TYPED,
        {"walletUuid": wallet, "type": kind, "value": sent, "method": None},
        tenant.token,
    )

    assert result["success"] is True, result
    assert result["alreadyLinked"] is False
    assert result["errors"] == []
    assert result["userErrors"] == []
    (code,) = result["redemptionCodes"]
    assert code["redemptionType"] == kind
    assert Decimal(str(code["rewardValue"])) == answered
    assert code["deliveryMethod"] == delivery
    assert code["creditType"] == credit
    assert code["status"] == "ACTIVE"
    assert code["redeemed"] is False
    assert code["allocated"] is True
    assert code["deliveryContent"] is None
    wallets, entries = _entries(db, tenant)
    assert entries == before[1]  # no ledger entry for any code
    read = api.data(WALLET_CODES, {"code": code["code"], "uuid": None}, token=tenant.token)
    assert read["account"]["redemptionCode"]["redemptionType"] == kind
    if kind in CREDIT_TYPES:
        assert wallets != before[0]  # the credit is held
    else:
        assert wallets == before[0]  # nothing held


def test_a_discount_code_is_redeemed_once_with_no_ledger_entry(
    api: Api, db: Database, tenant: Tenant, wallet: str, database_url: str
) -> None:
    code = _created(
        api, tenant, walletUuid=wallet, redemptionType="DISCOUNT_PERCENTAGE", rewardValue=12.5
    )
    before = _entries(db, tenant)

    redeemed = _mutate(api, REDEEM, {"code": code["code"]}, tenant.token)
    again = _mutate(api, REDEEM, {"code": code["code"].replace("-", "").lower()}, tenant.token)

    assert redeemed["success"] is True, redeemed
    assert redeemed["creditEntry"] is None
    answered = redeemed["redemptionCode"]
    assert answered["redemptionType"] == "DISCOUNT_PERCENTAGE"
    assert Decimal(str(answered["rewardValue"])) == Decimal("12.5")
    assert answered["status"] == "REDEEMED"
    assert answered["redeemed"] is True
    assert answered["redeemedAt"] is not None
    assert again["success"] is False
    assert again["userErrors"] == [
        {
            "field": "code",
            "code": "ALREADY_REDEEMED",
            "message": f"code {code['code']} was already redeemed",
        }
    ]
    assert _entries(db, tenant) == before
    assert redemption_row(db, tenant, code["uuid"]).spend_entry_uuid is None
    events = [
        (kind, payload["redemption_type"], payload["amount"])
        for kind, payload in outbox(db, tenant.uuid)
        if kind.startswith("redemption_code.")
    ]
    assert events == [
        ("redemption_code.created", "DISCOUNT_PERCENTAGE", "12.50"),
        ("redemption_code.redeemed", "DISCOUNT_PERCENTAGE", "12.50"),
    ]
    verified = _ledger_verify(database_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_wallet_codes_show_type_value_and_status_for_an_order_to_read(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact = make_contact(db, tenant)
    fixed = _created(
        api,
        tenant,
        contactUuid=contact.customer.uuid,
        redemptionType="DISCOUNT_FIXED",
        rewardValue="7.25",
        deliveryMethod="EMAIL",
    )
    free = _created(
        api, tenant, walletUuid=contact.wallet_uuid, redemptionType="FREE_SHIPPING", quantity=1
    )
    _mutate(api, REDEEM, {"code": free["code"]}, tenant.token)

    read = api.data(
        WALLET_CODES, {"code": fixed["code"], "uuid": contact.customer.uuid}, token=tenant.token
    )["account"]

    assert read["redemptionCode"]["status"] == "ACTIVE"
    (found,) = read["contacts"]
    assert found["wallet"]["globalCreditHeld"] == 0
    listed = {row["code"]: row for row in found["wallet"]["redemptionCodes"]}
    assert listed[fixed["code"]]["redemptionType"] == "DISCOUNT_FIXED"
    assert Decimal(str(listed[fixed["code"]]["rewardValue"])) == Decimal("7.25")
    assert listed[fixed["code"]]["deliveryMethod"] == "EMAIL"
    assert listed[free["code"]]["redemptionType"] == "FREE_SHIPPING"
    assert listed[free["code"]]["status"] == "REDEEMED"


def test_recipient_fields_are_stored_and_returned(api: Api, db: Database, tenant: Tenant) -> None:
    contact = make_contact(db, tenant, email="owner@example.com")
    code = _created(
        api,
        tenant,
        walletUuid=contact.wallet_uuid,
        redemptionType="FREE_PRODUCT",
        deliveryMethod="PHONE",
        recipientName="  Ada Lovelace ",
        recipientEmail="ada@example.org",
        recipientPhone="+44 20 7946 0958",
        recipientExternalId="gid://shopify/Customer/42",
    )
    plain = _created(
        api, tenant, walletUuid=contact.wallet_uuid, redemptionType="FREE_PRODUCT", rewardValue=0
    )

    assert code["deliveryMethod"] == "PHONE"
    assert code["recipientName"] == "Ada Lovelace"
    assert code["recipientEmail"] == "ada@example.org"
    assert code["recipientPhone"] == "+442079460958"
    assert code["recipientExternalId"] == "gid://shopify/Customer/42"
    # Not given: the contact's own, as before.
    assert plain["recipientEmail"] == "owner@example.com"
    assert plain["deliveryMethod"] == "LINK"


def test_subject_access_shows_the_code_and_erasure_blanks_its_recipient(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact = make_contact(db, tenant)
    code = _created(
        api,
        tenant,
        walletUuid=contact.wallet_uuid,
        redemptionType="DISCOUNT_PERCENTAGE",
        rewardValue="7.5",
        deliveryMethod="EMAIL",
        recipientName="Jane Roe",
        recipientEmail="jane@example.org",
    )

    exported = privacy.export_contact_data(db, tenant.principal, contact.customer.uuid)
    privacy.erase_contact(db, tenant.principal, contact.customer.uuid)

    (shown,) = exported["redemption_codes"]
    assert (shown["redemption_type"], shown["amount"]) == ("DISCOUNT_PERCENTAGE", "7.50")
    assert (shown["recipient_name"], shown["recipient_email"]) == ("Jane Roe", "jane@example.org")
    with db.read() as connection:
        found = redemptions.find_code(connection, tenant.principal, code["code"])
    assert found is not None
    assert found.status.value == "CANCELLED"
    assert (found.recipient_name, found.recipient_email) == (None, None)


def test_cancelled_and_expired_codes_of_other_types_release_nothing(
    api: Api, db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    cancelled = _created(
        api, tenant, walletUuid=wallet, redemptionType="FREE_SHIPPING", rewardValue=0
    )
    expiring = _created(
        api,
        tenant,
        walletUuid=wallet,
        redemptionType="DISCOUNTED_SHIPPING_FIXED",
        rewardValue=2,
        expiresAt=clock.later(days=1).isoformat(),
    )
    before = _entries(db, tenant)

    answer = _mutate(api, CANCEL, {"code": cancelled["code"]}, tenant.token)
    twice = _mutate(api, CANCEL, {"code": cancelled["code"]}, tenant.token)
    clock.advance(days=1)
    refused = _mutate(api, REDEEM, {"code": expiring["code"]}, tenant.token)
    swept = expiry.sweep(db)

    assert answer["success"] is True
    assert answer["redemptionCode"] == {"status": "CANCELLED", "redemptionType": "FREE_SHIPPING"}
    assert twice["userErrors"][0]["code"] == "CODE_CANCELLED"
    assert refused["userErrors"][0]["code"] == "CODE_EXPIRED"
    # The sweep covers every account of the shared store: codes other tests left due too.
    assert swept.codes_expired >= 1
    read = api.data(WALLET_CODES, {"code": expiring["code"], "uuid": None}, token=tenant.token)
    assert read["account"]["redemptionCode"]["status"] == "EXPIRED"
    assert _entries(db, tenant) == before


def test_credit_types_hold_and_capture_as_before(
    api: Api, db: Database, tenant: Tenant, wallet: str
) -> None:
    by_type = _created(
        api,
        tenant,
        walletUuid=wallet,
        redemptionType="CREDIT_GLOBAL_CURRENCY",
        creditType="GLOBAL",
        rewardValue=4,
    )
    legacy = _created(api, tenant, walletUuid=wallet, creditType="LOCAL", rewardValue=10)

    redeemed = _mutate(api, REDEEM, {"code": by_type["code"]}, tenant.token)

    assert legacy["redemptionType"] == "CREDIT_LOCAL_CURRENCY"
    assert legacy["deliveryMethod"] == "CREDIT"
    assert redeemed["creditEntry"]["action"] == "SPEND"
    assert Decimal(str(redeemed["creditEntry"]["amount"])) == Decimal("4")
    read = api.data(WALLET_CODES, {"code": legacy["code"], "uuid": None}, token=tenant.token)
    (found,) = [
        row["wallet"] for row in read["account"]["contacts"] if row["wallet"]["localCreditHeld"]
    ]
    assert Decimal(str(found["localCreditHeld"])) == Decimal("10")
    assert make_code(db, tenant, wallet, "1.00").redemption_type.value == "CREDIT_GLOBAL_CURRENCY"


def _refusal(field: str, message: str) -> dict[str, str]:
    return {"field": field, "code": "INVALID", "message": message}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            {"redemptionType": "DISCOUNT_PERCENTAGE", "rewardValue": 0},
            _refusal(
                "rewardValue",
                "rewardValue of DISCOUNT_PERCENTAGE is a percentage above 0 and at most 100, got 0",
            ),
        ),
        (
            {"redemptionType": "DISCOUNTED_SHIPPING_PERCENTAGE", "rewardValue": "100.01"},
            _refusal(
                "rewardValue",
                "rewardValue of DISCOUNTED_SHIPPING_PERCENTAGE is a percentage above 0 and at "
                "most 100, got 100.01",
            ),
        ),
        (
            {"redemptionType": "DISCOUNT_PERCENTAGE", "rewardValue": "12.345"},
            _refusal("rewardValue", "rewardValue 12.345 has more than 2 decimal place(s)"),
        ),
        (
            {"redemptionType": "DISCOUNT_FIXED", "rewardValue": "1.001"},
            _refusal("rewardValue", "rewardValue 1.001 has more than 2 decimal place(s)"),
        ),
        (
            {"redemptionType": "DISCOUNT_FIXED", "rewardValue": -1},
            _refusal("rewardValue", "rewardValue must be greater than 0, got -1"),
        ),
        (
            {"redemptionType": "DISCOUNT_FIXED"},
            _refusal("rewardValue", "DISCOUNT_FIXED needs a rewardValue"),
        ),
        (
            {"redemptionType": "FREE_PRODUCT", "rewardValue": 1},
            _refusal(
                "rewardValue", "FREE_PRODUCT carries no value: leave rewardValue out or give 0"
            ),
        ),
        (
            {"redemptionType": "CREDIT_LOCAL_CURRENCY", "creditType": "GLOBAL", "rewardValue": 1},
            _refusal(
                "creditType",
                "creditType GLOBAL does not match redemptionType CREDIT_LOCAL_CURRENCY "
                "(which is LOCAL)",
            ),
        ),
        (
            {"redemptionType": "DISCOUNT_FIXED", "creditType": "GLOBAL", "rewardValue": 1},
            _refusal("creditType", "creditType is for credit codes only, not DISCOUNT_FIXED"),
        ),
        (
            {"rewardValue": 1},
            _refusal("redemptionType", "give redemptionType or creditType"),
        ),
        (
            {"redemptionType": "FREE_SHIPPING", "deliveryMethod": "CREDIT"},
            _refusal(
                "deliveryMethod", "deliveryMethod must be one of EMAIL, PHONE, LINK, got 'CREDIT'"
            ),
        ),
        (
            {"redemptionType": "FREE_SHIPPING", "recipientEmail": "not-an-address"},
            _refusal(
                "recipientEmail", "recipientEmail 'not-an-address' is not a valid email address"
            ),
        ),
        (
            {"redemptionType": "FREE_SHIPPING", "recipientPhone": "555-0100"},
            _refusal(
                "recipientPhone",
                "recipientPhone '555-0100' must be in E.164 form: '+', country code and number, "
                "8-16 chars",
            ),
        ),
        (
            {"redemptionType": "FREE_SHIPPING", "recipientName": "x" * 201},
            _refusal("recipientName", "recipientName must be 0 to 200 characters, got 201"),
        ),
    ],
)
def test_a_bad_value_is_a_user_error_and_writes_nothing(
    api: Api,
    db: Database,
    tenant: Tenant,
    wallet: str,
    change: dict[str, Any],
    error: dict[str, str],
) -> None:
    before = holds_state(db, tenant.uuid)

    result = _mutate(api, CREATE, {"redemption": {"walletUuid": wallet, **change}}, tenant.token)

    assert result == {
        "success": False,
        "alreadyLinked": False,
        "redemptionCodes": [],
        "errors": [error["message"]],
        "userErrors": [error],
    }
    assert holds_state(db, tenant.uuid) == before


def test_an_unknown_redemption_type_fails_validation_as_a_typed_client_expects(
    api: Api, tenant: Tenant, wallet: str
) -> None:
    body = api.graphql(
        CREATE_TYPED, {"walletUuid": wallet, "type": "CASHBACK", "value": 1}, token=tenant.token
    )

    assert body.get("data") is None
    assert "RedemptionType" in body["errors"][0]["message"]


def test_a_filter_by_credit_type_keeps_only_credit_codes(
    api: Api, db: Database, tenant: Tenant, wallet: str
) -> None:
    credit = _created(api, tenant, walletUuid=wallet, creditType="GLOBAL", rewardValue=2)
    _created(api, tenant, walletUuid=wallet, redemptionType="DISCOUNT_FIXED", rewardValue=2)

    with db.read() as connection:
        found = redemptions.codes_for_wallets(
            connection,
            tenant.principal,
            [wallet],
            limit=10,
            offset=0,
            where=CodeFilter(credit_type="GLOBAL"),
        )
        every = redemptions.count_codes_for_wallets(connection, tenant.principal, [wallet])

    assert [code.code for code in found[wallet]] == [credit["code"].replace("-", "")]
    assert every == {wallet: 2}


def test_the_console_shows_a_discount_code_by_its_type_and_value(
    api: Api, db: Database, tenant: Tenant, server: ThreadServer
) -> None:
    contact = make_contact(db, tenant)
    fund(db, tenant, contact.wallet_uuid, "5.00")
    credit = _created(
        api, tenant, walletUuid=contact.wallet_uuid, creditType="GLOBAL", rewardValue=2
    )
    discount = _created(
        api,
        tenant,
        walletUuid=contact.wallet_uuid,
        redemptionType="DISCOUNT_PERCENTAGE",
        rewardValue="12.5",
    )
    console = Console(server.base_url)
    try:
        console.login_as(make_staff(db, tenant, "viewer"))
        page = console.get(f"/admin/customers/{contact.customer.uuid}")
    finally:
        console.close()

    assert page.status_code == 200
    rows = {
        code: page.text.split(f"<code>{code.replace('-', '')}</code>", 1)[1].split("</tr>", 1)[0]
        for code in (credit["code"], discount["code"])
    }
    assert "DISCOUNT_PERCENTAGE 12.50" in rows[discount["code"]]
    assert "credit" in rows[credit["code"]]


def test_the_migration_keeps_older_codes_as_credit_codes_and_goes_back_down(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> None:
    with own_store(request, database_url, tmp_path) as url:
        store = Database(url)
        try:
            owner = new_tenant(store)
            contact = make_contact(store, owner)
            fund(store, owner, contact.wallet_uuid, "5.00")
            older = make_code(store, owner, contact.wallet_uuid, "2.00")
            config = migrate.alembic_config(url)
            store.dispose()
            command.downgrade(config, "20261205_50")
            command.upgrade(config, "head")

            with store.read() as connection:
                found = redemptions.find_code(connection, owner.principal, older.code)
            free = redemptions.create_redemptions(
                store,
                owner.principal,
                NewRedemption(
                    credit_type=None,
                    amount=None,
                    wallet_uuid=contact.wallet_uuid,
                    redemption_type="FREE_PRODUCT",
                ),
            )
        finally:
            store.dispose()

    assert found is not None
    assert found.redemption_type.value == "CREDIT_GLOBAL_CURRENCY"
    assert found.delivery_method.value == "CREDIT"
    assert found.amount == 200
    assert [(code.redemption_type.value, code.amount) for code in free] == [("FREE_PRODUCT", 0)]


def test_a_repeated_create_with_its_idempotency_key_answers_the_same_code(
    api: Api, db: Database, tenant: Tenant, wallet: str
) -> None:
    redemption = {
        "walletUuid": wallet,
        "redemptionType": "DISCOUNTED_SHIPPING_FIXED",
        "rewardValue": "4.99",
        "deliveryMethod": "LINK",
        "idempotencyKey": "shipping-4-99",
    }
    first = _created(api, tenant, **redemption)
    again = _created(api, tenant, **redemption)
    changed = _mutate(
        api, CREATE, {"redemption": {**redemption, "rewardValue": "5.99"}}, tenant.token
    )

    assert again == first
    assert changed["success"] is False
    assert changed["userErrors"][0]["field"] == "idempotencyKey"
