"""Races over real HTTP against ``patron serve`` (its own processes): one code redeemed by 32
clients at once is captured once; holds made at once never exceed the available balance;
reversals made at once never give back more than the original; redeem and cancel racing on
one code leave exactly one of them done."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from patron.core.db import Database
from patron.redemptions import codes
from tests.support.holds import (
    assert_store_consistent,
    make_code,
    post,
    redemption_row,
    wallet_row,
)
from tests.support.ledger import entry_rows
from tests.support.server import ProcessServer
from tests.support.tenants import Tenant, fund, make_contact

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("heavy")]

CLIENTS = 32
ERRORS = "errors userErrors { field code message }"
REDEEM = f"""
mutation($code: String!) {{
  redeemRedemption(code: $code) {{ success creditEntry {{ uuid amount }} {ERRORS} }}
}}
"""
CANCEL = f"""
mutation($code: String!) {{ cancelRedemption(code: $code) {{ success {ERRORS} }} }}
"""
CREATE = f"""
mutation($r: CreateRedemptionInput!) {{
  createRedemption(redemption: $r) {{ success redemptionCodes {{ uuid }} {ERRORS} }}
}}
"""
REVERSE = f"""
mutation($r: ReverseCreditEntryInput!) {{
  reverseCreditEntry(reversal: $r) {{ success creditEntry {{ uuid amount }} {ERRORS} }}
}}
"""


@pytest.fixture(scope="module")
def served(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessServer]:
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    # 32 clients queue well on the test servers' 5 + 5 connections per worker.
    server = ProcessServer(database_url, workers=2, log=log).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def store_stays_consistent(db: Database) -> Iterator[None]:
    yield
    assert_store_consistent(db)


def _all_at_once(
    base_url: str, token: str, requests: list[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Send each (query, variables) on its own thread and connection, released together."""
    results: list[dict[str, Any] | None] = [None] * len(requests)
    barrier = threading.Barrier(len(requests))
    failures: list[BaseException] = []
    client = httpx.Client(
        base_url=base_url,
        timeout=60,
        headers={"Authorization": f"Bearer {token}"},
        limits=httpx.Limits(max_connections=len(requests)),
    )

    def send(index: int, query: str, variables: dict[str, Any]) -> None:
        try:
            barrier.wait(timeout=30)
            response = client.post("/graphql", json={"query": query, "variables": variables})
            for _ in range(25):
                # 503 + Retry-After: the store refused a connection (a full shared server
                # while the rest of the suite runs beside this test); nothing was written,
                # and a client tries again, as these do, for up to five seconds.
                if response.status_code != 503:
                    break
                time.sleep(0.2)
                response = client.post("/graphql", json={"query": query, "variables": variables})
            assert response.status_code == 200, response.text
            body = json.loads(response.text, parse_float=Decimal)
            assert "errors" not in body, body
            (payload,) = body["data"].values()
            results[index] = payload
        except BaseException as error:  # reported below, on the test's thread
            failures.append(error)
            barrier.abort()

    threads = [
        threading.Thread(target=send, args=(index, query, variables))
        for index, (query, variables) in enumerate(requests)
    ]
    with client:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert not failures, failures
    return [result for result in results if result is not None]


def _codes(results: list[dict[str, Any]]) -> Counter[str]:
    return Counter(
        "OK" if result["success"] else result["userErrors"][0]["code"] for result in results
    )


def test_one_code_redeemed_by_32_clients_at_once_is_captured_once(
    served: ProcessServer, db: Database, tenant: Tenant
) -> None:
    wallet_uuid = make_contact(db, tenant).wallet_uuid
    fund(db, tenant, wallet_uuid, "100.00")
    code = make_code(db, tenant, wallet_uuid, "25.00")
    typed = [code.code, codes.display(code.code).lower()] * (CLIENTS // 2)

    results = _all_at_once(
        served.base_url, tenant.token, [(REDEEM, {"code": text}) for text in typed]
    )

    assert _codes(results) == Counter({"OK": 1, "ALREADY_REDEEMED": CLIENTS - 1})
    (winner,) = [result for result in results if result["success"]]
    assert winner["creditEntry"]["amount"] == Decimal("25.00")
    assert {result["errors"][0] for result in results if not result["success"]} == {
        f"code {codes.display(code.code)} was already redeemed"
    }
    stored = redemption_row(db, tenant, code.uuid)
    assert (stored.status, stored.spend_entry_uuid) == ("REDEEMED", winner["creditEntry"]["uuid"])
    spends = [
        (row.action, row.amount, row.redemption_uuid, row.uuid)
        for row in entry_rows(db, tenant.uuid, wallet_uuid)
        if row.reason == "REDEMPTION"
    ]
    assert spends == [("SPEND", 2500, code.uuid, winner["creditEntry"]["uuid"])]
    assert wallet_row(db, tenant, wallet_uuid).global_balance == 7500
    assert wallet_row(db, tenant, wallet_uuid).global_held == 0


def test_codes_made_at_once_never_hold_more_than_is_available(
    served: ProcessServer, db: Database, tenant: Tenant
) -> None:
    wallet_uuid = make_contact(db, tenant).wallet_uuid
    fund(db, tenant, wallet_uuid, "55.00")
    redemption = {"walletUuid": wallet_uuid, "creditType": "GLOBAL", "rewardValue": 10}

    results = _all_at_once(served.base_url, tenant.token, [(CREATE, {"r": redemption})] * 16)

    assert _codes(results) == Counter({"OK": 5, "INSUFFICIENT_CREDIT": 11})
    assert wallet_row(db, tenant, wallet_uuid).global_balance == 5500
    assert wallet_row(db, tenant, wallet_uuid).global_held == 5000


def test_reversals_made_at_once_never_give_back_more_than_the_original(
    served: ProcessServer, db: Database, tenant: Tenant
) -> None:
    wallet_uuid = make_contact(db, tenant).wallet_uuid
    fund(db, tenant, wallet_uuid, "50.00")
    spend = post(db, tenant, wallet_uuid, "SPEND", "20.00")

    results = _all_at_once(
        served.base_url, tenant.token, [(REVERSE, {"r": {"uuid": spend.uuid, "amount": 5}})] * 16
    )

    assert _codes(results) == Counter({"OK": 4, "ALREADY_REVERSED": 12})
    given_back = [
        row.amount
        for row in entry_rows(db, tenant.uuid, wallet_uuid)
        if row.reverses_uuid == spend.uuid
    ]
    assert given_back == [500] * 4
    assert wallet_row(db, tenant, wallet_uuid).global_balance == 5000


def test_redeem_and_cancel_racing_on_one_code_leave_exactly_one_done(
    served: ProcessServer, db: Database, tenant: Tenant
) -> None:
    wallet_uuid = make_contact(db, tenant).wallet_uuid
    fund(db, tenant, wallet_uuid, "30.00")
    code = make_code(db, tenant, wallet_uuid, "12.00")

    results = _all_at_once(
        served.base_url,
        tenant.token,
        [(REDEEM, {"code": code.code}), (CANCEL, {"code": code.code})] * 8,
    )

    outcome = _codes(results)
    status = redemption_row(db, tenant, code.uuid).status
    assert outcome["OK"] == 1
    if status == "REDEEMED":
        assert outcome == Counter({"OK": 1, "ALREADY_REDEEMED": 15})
        assert wallet_row(db, tenant, wallet_uuid).global_balance == 1800
    else:
        assert status == "CANCELLED"
        assert outcome == Counter({"OK": 1, "CODE_CANCELLED": 15})
        assert wallet_row(db, tenant, wallet_uuid).global_balance == 3000
    assert wallet_row(db, tenant, wallet_uuid).global_held == 0


def test_the_server_logged_no_unexpected_error(served: ProcessServer) -> None:
    assert served.log is not None
    logged = Path(served.log).read_text()
    assert "Traceback" not in logged
    assert "unexpected error" not in logged
