"""Account settings amounts depend on: ``patron account settings`` and ``updateAccountSettings``.

Both go through one service and the rules ``convertCredit`` applies to a client's rate.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from patron.accounts import service as accounts
from patron.accounts.service import PointsPrecisionChanged
from patron.core.db import Database
from patron.orders.account_settings import SettingsChange, update_amount_settings
from patron.orders.promotions import service as promotions
from tests.support.client import Api
from tests.support.orders import make_promotion
from tests.support.tenants import Tenant, fund, make_contact, new_tenant
from tests.test_cli import json_of, patron

UPDATE = """
mutation Update($settings: AccountSettingsInput!) {
  updateAccountSettings(settings: $settings) {
    success pointsPrecision conversionRates { from to rate }
    errors userErrors { field code message }
  }
}
"""
READ = "{ account { pointsPrecision conversionRates { from to rate } } }"
CONVERT = """
mutation Convert($credit: ConvertCreditInput!) {
  convertCredit(credit: $credit) {
    success creditEntry { creditType amount } errors userErrors { field code message }
  }
}
"""


def stored(db: Database, tenant: Tenant) -> tuple[int, dict[str, Any]]:
    account = accounts.get_account(db, tenant.uuid)
    return account.points_precision, account.settings.get("conversion_rates") or {}


def test_the_cli_sets_a_rate_that_convert_credit_then_uses(
    database_url: str, db: Database, api: Api, tmp_path: Path
) -> None:
    tenant = new_tenant(db)
    wallet = make_contact(db, tenant).wallet_uuid
    fund(db, tenant, wallet, 500, "LOCAL")

    shown = json_of(
        patron(
            "account",
            "settings",
            tenant.uuid,
            "--conversion-rate",
            "LOCAL_TO_GLOBAL=0.01",
            "--database",
            database_url,
            cwd=tmp_path,
        )
    )
    converted = api.data(
        CONVERT,
        {"credit": {"walletUuid": wallet, "amount": 250, "from": "LOCAL", "to": "GLOBAL"}},
        token=tenant.token,
    )

    assert shown == {
        "uuid": tenant.uuid,
        "points_precision": 0,
        "conversion_rates": {"LOCAL_TO_GLOBAL": "0.01"},
    }
    assert converted["convertCredit"]["creditEntry"] == {
        "creditType": "GLOBAL",
        "amount": Decimal("2.50"),
    }


def test_the_cli_removes_a_rate_and_shows_settings_without_changing_them(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    tenant = new_tenant(db)
    store = ("--database", database_url)
    json_of(
        patron(
            "account",
            "settings",
            tenant.uuid,
            "--conversion-rate",
            "LOCAL_TO_GLOBAL=0.01",
            "--conversion-rate",
            "GLOBAL_TO_LOCAL=100",
            *store,
            cwd=tmp_path,
        )
    )

    removed = json_of(
        patron(
            "account",
            "settings",
            tenant.uuid,
            "--conversion-rate",
            "LOCAL_TO_GLOBAL=",
            *store,
            cwd=tmp_path,
        )
    )
    shown = json_of(patron("account", "settings", tenant.uuid, *store, cwd=tmp_path))

    assert removed["conversion_rates"] == {"GLOBAL_TO_LOCAL": "100"}
    assert shown == removed


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ("LOCAL_TO_GLOBAL=0", "conversionRate must be greater than 0, got 0"),
        ("LOCAL_TO_GLOBAL=0.0000000000001", "conversionRate has more than 12 decimal places"),
        ("LOCAL_TO_GLOBAL=NaN", "conversionRate must be a finite number, got 'NaN'"),
        (
            "LOCAL_TO_LOCAL=1",
            "a conversion is one of LOCAL_TO_GLOBAL, GLOBAL_TO_LOCAL, got 'LOCAL_TO_LOCAL'",
        ),
        ("0.01", "--conversion-rate takes FROM_TO_TO=RATE (LOCAL_TO_GLOBAL=0.01), got '0.01'"),
    ],
)
def test_the_cli_refuses_a_rate_convert_credit_would_refuse(
    database_url: str, db: Database, tmp_path: Path, given: str, error: str
) -> None:
    tenant = new_tenant(db)

    result = patron(
        "account",
        "settings",
        tenant.uuid,
        "--conversion-rate",
        given,
        "--database",
        database_url,
        cwd=tmp_path,
    )

    assert (result.returncode, result.stdout) == (1, "")
    assert json.loads(result.stderr)["error"]["message"] == error
    assert stored(db, tenant) == (0, {})


def test_points_precision_changes_only_while_no_amount_is_kept_in_points(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    tenant = new_tenant(db)
    store = ("--database", database_url)

    changed = json_of(
        patron("account", "settings", tenant.uuid, "--points-precision", "2", *store, cwd=tmp_path)
    )
    entry = accounts.get_account(db, tenant.uuid)
    at_two = Tenant(tenant.uuid, tenant.token, accounts.system_principal(entry))
    fund(db, at_two, make_contact(db, at_two).wallet_uuid, "1.50", "LOCAL")
    refused = patron(
        "account", "settings", tenant.uuid, "--points-precision", "0", *store, cwd=tmp_path
    )

    assert changed["points_precision"] == 2
    assert entry.points_precision == 2
    assert refused.returncode == 1
    assert json.loads(refused.stderr) == {
        "error": {
            "code": "POINTS_PRECISION_IN_USE",
            "message": "the points precision can only change before the account keeps "
            "amounts in points, and it has customers with wallets (points are stored in "
            "units of its precision 2); it stays 2",
        }
    }
    assert stored(db, tenant)[0] == 2


def test_the_mutation_sets_precision_and_rates_for_an_admin(db: Database, api: Api) -> None:
    tenant = new_tenant(db)
    rates = [{"from": "LOCAL", "to": "GLOBAL", "rate": "0.005"}]

    answer = api.data(
        UPDATE, {"settings": {"pointsPrecision": 1, "conversionRates": rates}}, token=tenant.token
    )

    assert answer["updateAccountSettings"] == {
        "success": True,
        "pointsPrecision": 1,
        "conversionRates": [{"from": "LOCAL", "to": "GLOBAL", "rate": Decimal("0.005")}],
        "errors": [],
        "userErrors": [],
    }
    assert stored(db, tenant) == (1, {"LOCAL_TO_GLOBAL": "0.005"})
    assert api.data(READ, token=tenant.token)["account"] == {
        "pointsPrecision": 1,
        "conversionRates": [{"from": "LOCAL", "to": "GLOBAL", "rate": Decimal("0.005")}],
    }


@pytest.mark.parametrize("scope", ["read", "write"])
def test_the_mutation_needs_the_admin_scope_and_changes_nothing_without(
    db: Database, api: Api, scope: str
) -> None:
    tenant = new_tenant(db)
    token = tenant.with_scope(db, scope).token

    answer = api.data(UPDATE, {"settings": {"pointsPrecision": 3}}, token=token)

    assert answer["updateAccountSettings"]["success"] is False
    assert answer["updateAccountSettings"]["userErrors"] == [
        {
            "field": None,
            "code": "FORBIDDEN",
            "message": f"this token has the '{scope}' scope; this operation needs 'admin'",
        }
    ]
    assert stored(db, tenant) == (0, {})


def test_the_mutation_without_a_token_is_401_and_another_account_is_untouched(
    db: Database, api: Api, other_tenant: Tenant
) -> None:
    tenant = new_tenant(db)
    variables = {"settings": {"pointsPrecision": 4}}

    anonymous = api.post("/graphql", {"query": UPDATE, "variables": variables})
    api.data(UPDATE, variables, token=other_tenant.token)

    assert anonymous.status_code == 401
    assert stored(db, tenant) == (0, {})
    assert stored(db, other_tenant) == (4, {})


def test_the_mutation_refuses_as_convert_credit_does_and_writes_nothing(
    db: Database, api: Api
) -> None:
    tenant = new_tenant(db)
    wallet = make_contact(db, tenant).wallet_uuid
    fund(db, tenant, wallet, 10, "LOCAL")
    rate = "0.0000000000001"

    settings = api.data(
        UPDATE,
        {
            "settings": {
                "pointsPrecision": 2,
                "conversionRates": [{"from": "LOCAL", "to": "GLOBAL", "rate": rate}],
            }
        },
        token=tenant.token,
    )["updateAccountSettings"]
    convert = api.data(
        CONVERT,
        {
            "credit": {
                "walletUuid": wallet,
                "amount": 1,
                "from": "LOCAL",
                "to": "GLOBAL",
                "conversionRate": rate,
            }
        },
        token=tenant.token,
    )["convertCredit"]
    precision = api.data(UPDATE, {"settings": {"pointsPrecision": 2}}, token=tenant.token)

    assert (
        settings["userErrors"]
        == convert["userErrors"]
        == [
            {
                "field": "conversionRate",
                "code": "INVALID",
                "message": "conversionRate has more than 12 decimal places",
            }
        ]
    )
    assert precision["updateAccountSettings"]["userErrors"] == [
        {
            "field": "pointsPrecision",
            "code": "POINTS_PRECISION_IN_USE",
            "message": "the points precision can only change before the account keeps amounts "
            "in points, and it has customers with wallets (points are stored in units of its "
            "precision 0); it stays 0",
        }
    ]
    assert stored(db, tenant) == (0, {})


def test_a_promotion_written_with_a_precision_read_before_a_change_is_refused(
    db: Database,
) -> None:
    tenant = new_tenant(db)
    stale = tenant.principal  # read at precision 0, as a request on its way would hold it
    changed = update_amount_settings(db, tenant.principal, SettingsChange(points_precision=2))

    with pytest.raises(PointsPrecisionChanged, match="changed to 2 while this request"):
        make_promotion(
            db,
            Tenant(tenant.uuid, tenant.token, stale),
            reward="FIXED_CREDIT",
            reward_value="5",
            reward_credit_type="LOCAL",
        )

    assert changed.points_precision == 2
    with db.read() as connection:
        assert promotions.list_promotions(connection, stale) == []
