"""Redemption codes, expiring credit and reversals on the native API, over real HTTP: the
payloads in the seed vendor's shape, the refusals as userErrors, and the four-caller test
(no token, another account's token, a read token, the owner's token) on every new field and
mutation."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from patron.core.db import Database
from patron.redemptions import codes
from patron.redemptions.models import Redemption
from tests.support.client import Api
from tests.support.clock import FrozenClock
from tests.support.holds import (
    HoldsState,
    assert_store_consistent,
    fund_until,
    holds_state,
    make_code,
    post,
)
from tests.support.tenants import Tenant, fund, make_contact

ERRORS = "errors userErrors { field code message }"
CODE_FIELDS = """
  uuid code creditType rewardValue allocated redeemed redeemedAt status expiresAt releasedAt
  contactUuid walletUuid note createdAt
"""
ENTRY_FIELDS = "uuid action creditType amount balanceAfter reason note"

CREATE = f"""
mutation($r: CreateRedemptionInput!) {{
  createRedemption(redemption: $r) {{ success redemptionCodes {{ {CODE_FIELDS} }} {ERRORS} }}
}}
"""
REDEEM = f"""
mutation($code: String!) {{
  redeemRedemption(code: $code) {{
    success redemptionCode {{ {CODE_FIELDS} }} creditEntry {{ {ENTRY_FIELDS} }} {ERRORS}
  }}
}}
"""
CANCEL = f"""
mutation($code: String!) {{
  cancelRedemption(code: $code) {{
    success redemptionCode {{ {CODE_FIELDS} }} creditEntry {{ {ENTRY_FIELDS} }} {ERRORS}
  }}
}}
"""
REVERSE = f"""
mutation($r: ReverseCreditEntryInput!) {{
  reverseCreditEntry(reversal: $r) {{ success creditEntry {{ {ENTRY_FIELDS} }} {ERRORS} }}
}}
"""
ADD = f"""
mutation($e: AddCreditEntryInput!) {{
  addCreditEntry(creditEntry: $e) {{ success creditEntry {{ {ENTRY_FIELDS} }} {ERRORS} }}
}}
"""
READ = """
query($code: String!, $contact: String, $limit: Int, $offset: Int, $status: RedemptionStatus) {
  account {
    redemptionCode(code: $code) { uuid status }
    redemptionCodes(status: $status) { uuid }
    redemptionCodesCount(status: $status)
    contacts(uuid: $contact) {
      wallet {
        globalCreditBalance globalCreditHeld localCreditBalance localCreditHeld
        redemptionCodes(limit: $limit, offset: $offset) { uuid code status }
        expiringCredit { creditType amount expiresAt entryUuid }
      }
    }
  }
}
"""
DISPLAYED = re.compile(f"^([{codes.ALPHABET}]{{4}}-){{3}}[{codes.ALPHABET}]{{4}}$")


@pytest.fixture(autouse=True)
def store_stays_consistent(db: Database) -> Iterator[None]:
    yield
    assert_store_consistent(db)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    return FrozenClock(monkeypatch)


@dataclass(frozen=True)
class Scene:
    """The owner's contact: 50.00 lasting, a 10.00 lot, a 4.00 code and a 3.00 spend drawn
    from the lot (3.00 left in it): 57.00 in the balance, 53.00 available."""

    owner: Tenant
    contact_uuid: str
    wallet_uuid: str
    code: Redemption
    spend_uuid: str
    lot_uuid: str


@pytest.fixture
def scene(db: Database, tenant: Tenant, clock: FrozenClock) -> Scene:
    contact = make_contact(db, tenant)
    wallet_uuid = contact.wallet_uuid
    fund(db, tenant, wallet_uuid, "50.00")
    lot = fund_until(db, tenant, wallet_uuid, "10.00", clock.later(days=10))
    code = make_code(db, tenant, wallet_uuid, "4.00")  # drawn from the lot
    spend = post(db, tenant, wallet_uuid, "SPEND", "3.00")  # from the lot's 6.00 left
    return Scene(tenant, contact.customer.uuid, wallet_uuid, code, spend.uuid, lot.uuid)


def _mutate(api: Api, text: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    data = api.data(text, variables, token=token)
    (payload,) = data.values()
    result: dict[str, Any] = payload
    return result


def _read(api: Api, scene: Scene, token: str, **variables: Any) -> dict[str, Any]:
    found: dict[str, Any] = api.data(
        READ,
        {"code": scene.code.code, "contact": scene.contact_uuid, **variables},
        token=token,
    )["account"]
    return found


def _state(db: Database, scene: Scene) -> HoldsState:
    return holds_state(db, scene.owner.uuid)


# --- createRedemption -------------------------------------------------------------------------


def test_create_redemption_answers_in_the_vendors_shape(
    api: Api, db: Database, tenant: Tenant, clock: FrozenClock
) -> None:
    contact = make_contact(db, tenant)
    fund(db, tenant, contact.wallet_uuid, "25.00")

    result = _mutate(
        api,
        CREATE,
        {
            "r": {
                "contactUuid": contact.customer.uuid,
                "creditType": "GLOBAL",
                "rewardValue": 7.5,
                "quantity": 2,
                "expiresAt": "2031-04-01T00:00:00Z",
                "note": "birthday",
            }
        },
        tenant.token,
    )

    assert result["success"] is True
    assert (result["errors"], result["userErrors"]) == ([], [])
    made = result["redemptionCodes"]
    assert len(made) == 2
    for code in made:
        assert DISPLAYED.match(code["code"])
        assert {key: value for key, value in code.items() if key not in {"uuid", "code"}} == {
            "creditType": "GLOBAL",
            "rewardValue": Decimal("7.50"),
            "allocated": True,
            "redeemed": False,
            "redeemedAt": None,
            "status": "ACTIVE",
            "expiresAt": "2031-04-01T00:00:00+00:00",
            "releasedAt": None,
            "contactUuid": contact.customer.uuid,
            "walletUuid": contact.wallet_uuid,
            "note": "birthday",
            "createdAt": "2031-03-01T09:00:00+00:00",
        }
    wallet = api.data(READ, {"code": "", "contact": contact.customer.uuid}, token=tenant.token)
    assert wallet["account"]["contacts"][0]["wallet"]["globalCreditBalance"] == Decimal("10.00")
    assert wallet["account"]["contacts"][0]["wallet"]["globalCreditHeld"] == Decimal("15.00")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            {"rewardValue": "abc"},
            {
                "field": "rewardValue",
                "code": "INVALID",
                "message": "rewardValue must be a number, got 'abc'",
            },
        ),
        (
            {"rewardValue": 0},
            {
                "field": "rewardValue",
                "code": "INVALID",
                "message": "rewardValue must be greater than 0, got 0",
            },
        ),
        (
            {"quantity": 51},
            {"field": "quantity", "code": "INVALID", "message": "quantity must be 1 to 50"},
        ),
        (
            {"expiresAt": "2031-03-01T08:59:59Z"},
            {"field": "expiresAt", "code": "INVALID", "message": "expiresAt must be in the future"},
        ),
        (
            {"rewardValue": "53.01"},
            {
                "field": "amount",
                "code": "INSUFFICIENT_CREDIT",
                "message": "insufficient GLOBAL credit: available balance 53.00 (4.00 held by "
                "redemption codes), amount 53.01",
            },
        ),
    ],
)
def test_a_bad_create_redemption_is_a_user_error_and_changes_nothing(
    api: Api, db: Database, scene: Scene, change: dict[str, Any], error: dict[str, Any]
) -> None:
    before = _state(db, scene)
    redemption = {"walletUuid": scene.wallet_uuid, "creditType": "GLOBAL", "rewardValue": 1}

    result = _mutate(api, CREATE, {"r": {**redemption, **change}}, scene.owner.token)

    assert result == {
        "success": False,
        "redemptionCodes": [],
        "errors": [error["message"]],
        "userErrors": [error],
    }
    assert _state(db, scene) == before


# --- redeemRedemption and cancelRedemption ----------------------------------------------------


def test_redeem_redemption_captures_the_hold_once(
    api: Api, db: Database, scene: Scene, clock: FrozenClock
) -> None:
    clock.advance(minutes=30)
    typed = codes.display(scene.code.code).lower()

    redeemed = _mutate(api, REDEEM, {"code": typed}, scene.owner.token)
    before_again = _state(db, scene)
    again = _mutate(api, REDEEM, {"code": scene.code.code}, scene.owner.token)

    assert redeemed["success"] is True
    assert redeemed["redemptionCode"]["status"] == "REDEEMED"
    assert redeemed["redemptionCode"]["redeemed"] is True
    assert redeemed["redemptionCode"]["redeemedAt"] == "2031-03-01T09:30:00+00:00"
    entry = redeemed["creditEntry"]
    assert {key: value for key, value in entry.items() if key != "uuid"} == {
        "action": "SPEND",
        "creditType": "GLOBAL",
        "amount": Decimal("4.00"),
        "balanceAfter": Decimal("53.00"),
        "reason": "REDEMPTION",
        "note": f"redemption code {codes.display(scene.code.code)}",
    }
    message = f"code {codes.display(scene.code.code)} was already redeemed"
    assert again == {
        "success": False,
        "redemptionCode": None,
        "creditEntry": None,
        "errors": [message],
        "userErrors": [{"field": "code", "code": "ALREADY_REDEEMED", "message": message}],
    }
    assert _state(db, scene) == before_again
    account = _read(api, scene, scene.owner.token)
    assert account["contacts"][0]["wallet"]["globalCreditHeld"] == Decimal("0.00")
    assert account["contacts"][0]["wallet"]["globalCreditBalance"] == Decimal("53.00")


def test_cancel_redemption_releases_the_hold_and_the_code_is_spent_for_good(
    api: Api, db: Database, scene: Scene, clock: FrozenClock
) -> None:
    clock.advance(hours=2)

    cancelled = _mutate(api, CANCEL, {"code": scene.code.code}, scene.owner.token)
    before = _state(db, scene)
    redeem_after = _mutate(api, REDEEM, {"code": scene.code.code}, scene.owner.token)
    cancel_after = _mutate(api, CANCEL, {"code": scene.code.code}, scene.owner.token)

    assert cancelled["success"] is True
    assert cancelled["creditEntry"] is None
    code = cancelled["redemptionCode"]
    assert (code["status"], code["redeemed"], code["releasedAt"]) == (
        "CANCELLED",
        False,
        "2031-03-01T11:00:00+00:00",
    )
    message = f"code {codes.display(scene.code.code)} was cancelled"
    for refused in (redeem_after, cancel_after):
        assert refused["userErrors"] == [
            {"field": "code", "code": "CODE_CANCELLED", "message": message}
        ]
    assert _state(db, scene) == before
    wallet = _read(api, scene, scene.owner.token)["contacts"][0]["wallet"]
    assert (wallet["globalCreditBalance"], wallet["globalCreditHeld"]) == (
        Decimal("57.00"),
        Decimal("0.00"),
    )
    assert wallet["expiringCredit"] == [
        {
            "creditType": "GLOBAL",
            "amount": Decimal("7.00"),
            "expiresAt": "2031-03-11T09:00:00+00:00",
            "entryUuid": scene.lot_uuid,
        }
    ]


def test_an_expired_code_is_refused_over_the_api(
    api: Api, db: Database, tenant: Tenant, clock: FrozenClock
) -> None:
    contact = make_contact(db, tenant)
    fund(db, tenant, contact.wallet_uuid, "5.00")
    code = make_code(db, tenant, contact.wallet_uuid, "5.00", expires_at=clock.later(days=1))
    clock.advance(days=1)
    before = holds_state(db, tenant.uuid)

    redeemed = _mutate(api, REDEEM, {"code": code.code}, tenant.token)
    cancelled = _mutate(api, CANCEL, {"code": code.code}, tenant.token)

    message = f"code {codes.display(code.code)} has expired"
    for refused in (redeemed, cancelled):
        assert refused["success"] is False
        assert refused["userErrors"] == [
            {"field": "code", "code": "CODE_EXPIRED", "message": message}
        ]
    assert holds_state(db, tenant.uuid) == before


@pytest.mark.parametrize("typed", ["", "nope", "ACDE-FGHJ-KMNP-QRT", "ACDE-FGHJ-KMNP-QRTUV"])
def test_an_unknown_code_is_not_found(api: Api, db: Database, scene: Scene, typed: str) -> None:
    before = _state(db, scene)

    redeemed = _mutate(api, REDEEM, {"code": typed}, scene.owner.token)

    assert redeemed["success"] is False
    assert redeemed["userErrors"][0]["code"] == "NOT_FOUND"
    assert redeemed["userErrors"][0]["field"] == "code"
    assert _state(db, scene) == before


# --- reading codes ----------------------------------------------------------------------------


def test_codes_are_read_by_their_text_in_pages_and_counted_by_status(
    api: Api, db: Database, tenant: Tenant, clock: FrozenClock
) -> None:
    contact = make_contact(db, tenant)
    fund(db, tenant, contact.wallet_uuid, "10.00")
    made = []
    for _ in range(4):
        made.append(make_code(db, tenant, contact.wallet_uuid, "1.00"))
        clock.advance(minutes=1)
    _mutate(api, REDEEM, {"code": made[0].code}, tenant.token)
    scene = Scene(tenant, contact.customer.uuid, contact.wallet_uuid, made[1], "", "")

    page = _read(api, scene, tenant.token, limit=2, offset=1)
    redeemed = _read(api, scene, tenant.token, status="REDEEMED")
    by_text = api.data(
        "query($c: String!) { account { redemptionCode(code: $c) { uuid } } }",
        {"c": f" {made[2].code.lower()} "},
        token=tenant.token,
    )
    too_many = api.graphql(
        READ, {"code": "", "contact": contact.customer.uuid, "limit": 251}, token=tenant.token
    )

    codes_page = page["contacts"][0]["wallet"]["redemptionCodes"]
    assert [code["uuid"] for code in codes_page] == [made[2].uuid, made[1].uuid]
    assert [code["status"] for code in codes_page] == ["ACTIVE", "ACTIVE"]
    assert page["redemptionCodesCount"] == 4
    assert [code["uuid"] for code in page["redemptionCodes"]] == [c.uuid for c in reversed(made)]
    assert page["redemptionCode"] == {"uuid": made[1].uuid, "status": "ACTIVE"}
    assert redeemed["redemptionCodesCount"] == 1
    assert [code["uuid"] for code in redeemed["redemptionCodes"]] == [made[0].uuid]
    assert by_text == {"account": {"redemptionCode": {"uuid": made[2].uuid}}}
    assert too_many["errors"][0]["message"] == "limit must be between 0 and 250, got 251"


# --- reverseCreditEntry -----------------------------------------------------------------------


def test_reverse_credit_entry_gives_back_in_parts_up_to_the_original(
    api: Api, db: Database, scene: Scene
) -> None:
    token = scene.owner.token

    part = _mutate(
        api, REVERSE, {"r": {"uuid": scene.spend_uuid, "amount": 1, "note": "rma"}}, token
    )
    before = _state(db, scene)
    too_much = _mutate(api, REVERSE, {"r": {"uuid": scene.spend_uuid, "amount": "2.01"}}, token)
    assert _state(db, scene) == before
    rest = _mutate(api, REVERSE, {"r": {"uuid": scene.spend_uuid}}, token)

    assert part["success"] is True
    assert {key: value for key, value in part["creditEntry"].items() if key != "uuid"} == {
        "action": "ADD",
        "creditType": "GLOBAL",
        "amount": Decimal("1.00"),
        "balanceAfter": Decimal("58.00"),
        "reason": "MANUAL",
        "note": "rma",
    }
    message = "at most 2.00 of this entry can still be reversed"
    assert too_much == {
        "success": False,
        "creditEntry": None,
        "errors": [message],
        "userErrors": [{"field": "amount", "code": "INVALID", "message": message}],
    }
    assert rest["creditEntry"]["amount"] == Decimal("2.00")
    assert rest["creditEntry"]["balanceAfter"] == Decimal("60.00")


# --- four callers on every new mutation --------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    name: str
    text: str
    variables: Callable[[Scene], dict[str, Any]]
    refused_field: str


MUTATIONS = [
    Mutation(
        "createRedemption",
        CREATE,
        lambda s: {"r": {"walletUuid": s.wallet_uuid, "creditType": "GLOBAL", "rewardValue": 1}},
        "walletUuid",
    ),
    Mutation("redeemRedemption", REDEEM, lambda s: {"code": s.code.code}, "code"),
    Mutation("cancelRedemption", CANCEL, lambda s: {"code": s.code.code}, "code"),
    Mutation(
        "reverseCreditEntry",
        REVERSE,
        lambda s: {"r": {"uuid": s.spend_uuid, "amount": 1}},
        "uuid",
    ),
    Mutation(
        "addCreditEntry with expiresAt",
        ADD,
        lambda s: {
            "e": {
                "walletUuid": s.wallet_uuid,
                "action": "ADD",
                "creditType": "LOCAL",
                "amount": 10,
                "expiresAt": "2031-06-01T00:00:00Z",
            }
        },
        "walletUuid",
    ),
]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_only_the_owners_write_token_can_run_the_mutation(
    api: Api, db: Database, scene: Scene, other_tenant: Tenant, mutation: Mutation
) -> None:
    variables = mutation.variables(scene)
    reader = scene.owner.with_scope(db, "read")
    before, theirs = _state(db, scene), holds_state(db, other_tenant.uuid)

    anonymous = api.post("/graphql", {"query": mutation.text, "variables": variables})
    by_stranger = _mutate(api, mutation.text, variables, other_tenant.token)
    by_reader = _mutate(api, mutation.text, variables, reader.token)

    assert anonymous.status_code == 401
    assert by_stranger["success"] is False
    assert [(e["field"], e["code"]) for e in by_stranger["userErrors"]] == [
        (mutation.refused_field, "NOT_FOUND")
    ]
    assert by_reader["success"] is False
    assert [e["code"] for e in by_reader["userErrors"]] == ["FORBIDDEN"]
    assert by_reader["userErrors"][0]["message"] == (
        "this token has the 'read' scope; this operation needs 'write'"
    )
    assert _state(db, scene) == before
    assert holds_state(db, other_tenant.uuid) == theirs
    by_owner = _mutate(api, mutation.text, variables, scene.owner.token)
    assert by_owner["success"] is True, by_owner
    assert _state(db, scene) != before


# --- four callers on every new field ----------------------------------------------------------


def test_only_the_owners_tokens_read_codes_holds_and_expiring_credit(
    api: Api, db: Database, scene: Scene, other_tenant: Tenant
) -> None:
    reader = scene.owner.with_scope(db, "read")
    variables = {"code": scene.code.code, "contact": scene.contact_uuid}
    before = _state(db, scene)

    anonymous = api.post("/graphql", {"query": READ, "variables": variables})
    by_stranger = _read(api, scene, other_tenant.token)
    by_reader = _read(api, scene, reader.token)
    by_owner = _read(api, scene, scene.owner.token)

    assert anonymous.status_code == 401
    assert scene.code.uuid not in anonymous.text
    assert by_stranger == {
        "redemptionCode": None,
        "redemptionCodes": [],
        "redemptionCodesCount": 0,
        "contacts": [],
    }
    assert by_reader == by_owner
    assert by_owner == {
        "redemptionCode": {"uuid": scene.code.uuid, "status": "ACTIVE"},
        "redemptionCodes": [{"uuid": scene.code.uuid}],
        "redemptionCodesCount": 1,
        "contacts": [
            {
                "wallet": {
                    "globalCreditBalance": Decimal("53.00"),
                    "globalCreditHeld": Decimal("4.00"),
                    "localCreditBalance": 0,
                    "localCreditHeld": 0,
                    "redemptionCodes": [
                        {
                            "uuid": scene.code.uuid,
                            "code": codes.display(scene.code.code),
                            "status": "ACTIVE",
                        }
                    ],
                    "expiringCredit": [
                        {
                            "creditType": "GLOBAL",
                            "amount": Decimal("3.00"),
                            "expiresAt": "2031-03-11T09:00:00+00:00",
                            "entryUuid": scene.lot_uuid,
                        }
                    ],
                }
            }
        ],
    }
    assert _state(db, scene) == before
