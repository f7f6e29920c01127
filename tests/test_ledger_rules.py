"""The ledger's rules (SPEC §3) over the native API: conversion, idempotency, insufficient
credit, append-only entries, paging, scopes, and ``patron ledger verify``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError, OperationalError

from patron.accounts import service as accounts
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.wallets.tables import credit_entries, wallets
from tests.support.client import Api
from tests.support.databases import own_store
from tests.support.ledger import entry_rows, ledger_state
from tests.support.server import ThreadServer
from tests.support.tenants import Tenant, fund, make_contact, new_tenant

ENTRY_FIELDS = """
  uuid action creditType amount amountMinor balanceAfter reason note idempotencyKey
  conversionUuid createdAt
"""

ADD_CREDIT_ENTRY = f"""
mutation AddCreditEntry($creditEntry: AddCreditEntryInput!) {{
  addCreditEntry(creditEntry: $creditEntry) {{
    success
    creditEntry {{ {ENTRY_FIELDS} }}
    errors
    userErrors {{ field code message }}
  }}
}}
"""

CONVERT_CREDIT = f"""
mutation ConvertCredit($credit: ConvertCreditInput!) {{
  convertCredit(credit: $credit) {{
    success
    conversionUuid
    creditEntry {{ {ENTRY_FIELDS} }}
    removedEntry {{ {ENTRY_FIELDS} }}
    errors
    userErrors {{ field code message }}
  }}
}}
"""

WALLET = f"""
query Wallet($uuid: String, $limit: Int, $offset: Int) {{
  account {{
    contacts(uuid: $uuid) {{
      wallet {{
        uuid globalCreditBalance localCreditBalance
        creditEntries(limit: $limit, offset: $offset) {{ {ENTRY_FIELDS} }}
      }}
    }}
  }}
}}
"""


class Ledger:
    """One contact's wallet, driven over HTTP with one token."""

    def __init__(self, api: Api, tenant: Tenant, contact_uuid: str, wallet_uuid: str) -> None:
        self.api = api
        self.tenant = tenant
        self.contact_uuid = contact_uuid
        self.wallet_uuid = wallet_uuid

    def post(
        self, action: str, credit_type: str, amount: Any, *, token: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        entry = {
            "walletUuid": self.wallet_uuid,
            "action": action,
            "creditType": credit_type,
            "amount": amount,
            **extra,
        }
        data = self.api.data(
            ADD_CREDIT_ENTRY, {"creditEntry": entry}, token=token or self.tenant.token
        )
        result: dict[str, Any] = data["addCreditEntry"]
        return result

    def convert(self, amount: Any, source: str, target: str, **extra: Any) -> dict[str, Any]:
        credit = {"walletUuid": self.wallet_uuid, "amount": amount, "from": source, "to": target}
        data = self.api.data(
            CONVERT_CREDIT, {"credit": {**credit, **extra}}, token=self.tenant.token
        )
        result: dict[str, Any] = data["convertCredit"]
        return result

    def wallet(self, limit: int | None = 250, offset: int | None = None) -> dict[str, Any]:
        variables = {"uuid": self.contact_uuid, "limit": limit, "offset": offset}
        data = self.api.data(WALLET, variables, token=self.tenant.token)
        wallet: dict[str, Any] = data["account"]["contacts"][0]["wallet"]
        return wallet

    def balances(self) -> tuple[Decimal, Decimal]:
        wallet = self.wallet(limit=0)
        return wallet["globalCreditBalance"], wallet["localCreditBalance"]


@pytest.fixture
def ledger(api: Api, db: Database, tenant: Tenant) -> Ledger:
    contact = make_contact(db, tenant)
    return Ledger(api, tenant, contact.customer.uuid, contact.wallet_uuid)


def _state(db: Database, ledger: Ledger) -> Any:
    return ledger_state(db, ledger.tenant.principal.account_id)


# --- conversion -------------------------------------------------------------------------------


def test_a_conversion_is_a_remove_and_an_add_linked_by_one_conversion_id(
    db: Database, ledger: Ledger
) -> None:
    fund(db, ledger.tenant, ledger.wallet_uuid, 500, "LOCAL")

    result = ledger.convert(150, "LOCAL", "GLOBAL", conversionRate="0.0133", note="swap")

    # 150 × 0.0133 = 1.995, rounded down to the cent.
    assert result["success"] is True
    added, removed = result["creditEntry"], result["removedEntry"]
    assert (added["action"], added["creditType"], added["amount"]) == (
        "ADD",
        "GLOBAL",
        Decimal("1.99"),
    )
    assert (removed["action"], removed["creditType"], removed["amount"]) == ("REMOVE", "LOCAL", 150)
    assert added["reason"] == removed["reason"] == "CONVERSION"
    assert added["note"] == removed["note"] == "swap"
    assert added["conversionUuid"] == removed["conversionUuid"] == result["conversionUuid"]
    assert removed["balanceAfter"] == 350
    assert added["balanceAfter"] == Decimal("1.99")
    assert ledger.balances() == (Decimal("1.99"), Decimal(350))
    linked = [
        row
        for row in entry_rows(db, ledger.tenant.principal.account_id, ledger.wallet_uuid)
        if row.conversion_uuid == result["conversionUuid"]
    ]
    assert [(row.seq, row.action, row.amount) for row in linked] == [
        (2, "REMOVE", 150),
        (3, "ADD", 199),
    ]


def test_money_converts_into_points(db: Database, ledger: Ledger) -> None:
    fund(db, ledger.tenant, ledger.wallet_uuid, "3.00")

    result = ledger.convert(2.5, "GLOBAL", "LOCAL", conversionRate=100)

    assert result["success"] is True
    assert (result["creditEntry"]["creditType"], result["creditEntry"]["amount"]) == ("LOCAL", 250)
    assert ledger.balances() == (Decimal("0.50"), Decimal(250))


def test_a_conversion_without_enough_credit_writes_neither_leg(
    db: Database, ledger: Ledger
) -> None:
    fund(db, ledger.tenant, ledger.wallet_uuid, 99, "LOCAL")
    before = _state(db, ledger)

    result = ledger.convert(100, "LOCAL", "GLOBAL", conversionRate=0.01)

    assert result["success"] is False
    assert result["creditEntry"] is None
    assert result["removedEntry"] is None
    assert result["errors"] == ["insufficient LOCAL credit: available balance 99, amount 100"]
    assert result["userErrors"][0]["code"] == "INSUFFICIENT_CREDIT"
    assert _state(db, ledger) == before


def test_a_conversion_whose_added_leg_would_pass_the_maximum_writes_neither_leg(
    db: Database, ledger: Ledger
) -> None:
    fund(db, ledger.tenant, ledger.wallet_uuid, "10000000000000.00")
    fund(db, ledger.tenant, ledger.wallet_uuid, 100, "LOCAL")
    before = _state(db, ledger)

    result = ledger.convert(100, "LOCAL", "GLOBAL", conversionRate=0.01)

    assert result["success"] is False
    assert result["errors"] == ["the balance would exceed the maximum"]
    assert _state(db, ledger) == before


def test_the_accounts_rate_is_used_when_the_client_leaves_it_out(api: Api, db: Database) -> None:
    tenant = new_tenant(db)
    accounts.update_account_settings(
        db, tenant.uuid, {"conversion_rates": {"LOCAL_TO_GLOBAL": "0.02"}}
    )
    contact = make_contact(db, tenant)
    ledger = Ledger(api, tenant, contact.customer.uuid, contact.wallet_uuid)
    fund(db, tenant, contact.wallet_uuid, 1000, "LOCAL")

    without_rate = ledger.convert(100, "LOCAL", "GLOBAL")
    same_rate = ledger.convert(100, "LOCAL", "GLOBAL", conversionRate="0.020")
    before = _state(db, ledger)
    other_rate = ledger.convert(100, "LOCAL", "GLOBAL", conversionRate=0.01)

    assert without_rate["creditEntry"]["amount"] == Decimal("2.00")
    assert same_rate["creditEntry"]["amount"] == Decimal("2.00")
    assert other_rate["success"] is False
    assert other_rate["userErrors"] == [
        {
            "field": "conversionRate",
            "code": "CONVERSION_RATE_MISMATCH",
            "message": "conversionRate 0.01 differs from the account's rate 0.02 "
            "for LOCAL to GLOBAL",
        }
    ]
    assert _state(db, ledger) == before
    assert ledger.balances() == (Decimal("4.00"), Decimal(800))


def test_without_an_account_rate_the_client_must_give_one(db: Database, ledger: Ledger) -> None:
    fund(db, ledger.tenant, ledger.wallet_uuid, 100, "LOCAL")
    before = _state(db, ledger)

    result = ledger.convert(100, "LOCAL", "GLOBAL")

    assert result["success"] is False
    assert result["userErrors"][0]["field"] == "conversionRate"
    assert "conversionRate is required" in result["errors"][0]
    assert _state(db, ledger) == before


# --- idempotency ------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_returns_the_first_entry_and_writes_nothing(
    db: Database, ledger: Ledger
) -> None:
    fund(db, ledger.tenant, ledger.wallet_uuid, "10.00")

    first = ledger.post("SPEND", "GLOBAL", 4, idempotencyKey="order-1001")
    after_first = _state(db, ledger)
    again = ledger.post("SPEND", "GLOBAL", 4, idempotencyKey="order-1001")
    and_again = ledger.post("SPEND", "GLOBAL", "4.00", idempotencyKey="order-1001")

    assert first["success"] is again["success"] is and_again["success"] is True
    assert again["creditEntry"] == first["creditEntry"]
    assert and_again["creditEntry"] == first["creditEntry"]
    assert first["creditEntry"]["idempotencyKey"] == "order-1001"
    assert _state(db, ledger) == after_first
    assert ledger.balances() == (Decimal("6.00"), Decimal(0))


def test_a_retry_is_answered_even_after_the_balance_has_moved_on(
    db: Database, ledger: Ledger
) -> None:
    fund(db, ledger.tenant, ledger.wallet_uuid, "5.00")
    first = ledger.post("SPEND", "GLOBAL", 5, idempotencyKey="pay-1")
    assert ledger.balances()[0] == 0

    retried = ledger.post("SPEND", "GLOBAL", 5, idempotencyKey="pay-1")

    assert retried["success"] is True
    assert retried["creditEntry"]["uuid"] == first["creditEntry"]["uuid"]


def test_the_same_key_with_other_input_is_refused(db: Database, ledger: Ledger) -> None:
    fund(db, ledger.tenant, ledger.wallet_uuid, "10.00")
    ledger.post("SPEND", "GLOBAL", 4, idempotencyKey="order-2002")
    before = _state(db, ledger)

    other_amount = ledger.post("SPEND", "GLOBAL", 5, idempotencyKey="order-2002")
    other_action = ledger.post("REMOVE", "GLOBAL", 4, idempotencyKey="order-2002")
    other_note = ledger.post("SPEND", "GLOBAL", 4, idempotencyKey="order-2002", note="x")
    other_operation = ledger.convert(
        1, "GLOBAL", "LOCAL", conversionRate=1, idempotencyKey="order-2002"
    )

    for refused in (other_amount, other_action, other_note, other_operation):
        assert refused["success"] is False
        assert refused["creditEntry"] is None
        assert refused["userErrors"] == [
            {
                "field": "idempotencyKey",
                "code": "IDEMPOTENCY_KEY_REUSED",
                "message": "idempotencyKey 'order-2002' was already used for a different request",
            }
        ]
    assert _state(db, ledger) == before


def test_a_conversion_retried_with_its_key_returns_both_first_entries(
    db: Database, ledger: Ledger
) -> None:
    fund(db, ledger.tenant, ledger.wallet_uuid, 500, "LOCAL")

    first = ledger.convert(100, "LOCAL", "GLOBAL", conversionRate=0.01, idempotencyKey="cv-1")
    after_first = _state(db, ledger)
    again = ledger.convert(100, "LOCAL", "GLOBAL", conversionRate=0.01, idempotencyKey="cv-1")

    assert again["creditEntry"] == first["creditEntry"]
    assert again["removedEntry"] == first["removedEntry"]
    assert again["conversionUuid"] == first["conversionUuid"]
    assert _state(db, ledger) == after_first
    assert ledger.balances() == (Decimal("1.00"), Decimal(400))


def test_a_refused_write_does_not_claim_its_key(db: Database, ledger: Ledger) -> None:
    refused = ledger.post("SPEND", "GLOBAL", 3, idempotencyKey="later")
    fund(db, ledger.tenant, ledger.wallet_uuid, "3.00")

    retried = ledger.post("SPEND", "GLOBAL", 3, idempotencyKey="later")

    assert refused["userErrors"][0]["code"] == "INSUFFICIENT_CREDIT"
    assert retried["success"] is True
    assert ledger.balances()[0] == 0


def test_keys_belong_to_one_account(
    api: Api, db: Database, ledger: Ledger, other_tenant: Tenant
) -> None:
    theirs = make_contact(db, other_tenant)
    their_ledger = Ledger(api, other_tenant, theirs.customer.uuid, theirs.wallet_uuid)

    ours = ledger.post("ADD", "GLOBAL", 1, idempotencyKey="shared-key")
    their = their_ledger.post("ADD", "GLOBAL", 2, idempotencyKey="shared-key")

    assert ours["success"] is their["success"] is True
    assert ours["creditEntry"]["uuid"] != their["creditEntry"]["uuid"]
    assert their_ledger.balances()[0] == Decimal("2.00")


@pytest.mark.parametrize("key", ["", "k" * 201, "tab\there"])
def test_a_malformed_key_is_refused(db: Database, ledger: Ledger, key: str) -> None:
    before = _state(db, ledger)

    result = ledger.post("ADD", "GLOBAL", 1, idempotencyKey=key)

    assert result["success"] is False
    assert result["userErrors"][0]["field"] == "idempotencyKey"
    assert "1 to 200 printable characters" in result["errors"][0]
    assert _state(db, ledger) == before


# --- insufficient credit ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "credit_type", "funded", "amount", "message"),
    [
        (
            "SPEND",
            "GLOBAL",
            "5.00",
            10,
            "insufficient GLOBAL credit: available balance 5.00, amount 10.00",
        ),
        (
            "REMOVE",
            "GLOBAL",
            "5.00",
            5.01,
            "insufficient GLOBAL credit: available balance 5.00, amount 5.01",
        ),
        ("SPEND", "LOCAL", 0, 1, "insufficient LOCAL credit: available balance 0, amount 1"),
        ("REMOVE", "LOCAL", 40, 41, "insufficient LOCAL credit: available balance 40, amount 41"),
    ],
)
def test_a_debit_above_the_balance_is_refused_and_writes_nothing(
    db: Database,
    ledger: Ledger,
    action: str,
    credit_type: str,
    funded: Any,
    amount: Any,
    message: str,
) -> None:
    if funded:
        fund(db, ledger.tenant, ledger.wallet_uuid, funded, credit_type)
    before = _state(db, ledger)

    result = ledger.post(action, credit_type, amount)

    assert result == {
        "success": False,
        "creditEntry": None,
        "errors": [message],
        "userErrors": [{"field": "amount", "code": "INSUFFICIENT_CREDIT", "message": message}],
    }
    assert _state(db, ledger) == before


def test_the_whole_balance_can_be_spent_and_not_a_cent_more(db: Database, ledger: Ledger) -> None:
    fund(db, ledger.tenant, ledger.wallet_uuid, "7.31")

    spent = ledger.post("SPEND", "GLOBAL", 7.31)
    before = _state(db, ledger)
    over = ledger.post("SPEND", "GLOBAL", 0.01)

    assert spent["creditEntry"]["balanceAfter"] == Decimal("0.00")
    assert over["userErrors"][0]["code"] == "INSUFFICIENT_CREDIT"
    assert _state(db, ledger) == before


# --- entries ----------------------------------------------------------------------------------


def test_entries_carry_their_running_balance_and_extensions(db: Database, ledger: Ledger) -> None:
    ledger.post("ADD", "GLOBAL", 10, note="welcome gift", idempotencyKey="gift-1")
    ledger.post("ADD", "LOCAL", 70)
    ledger.post("SPEND", "GLOBAL", 2.5)
    ledger.post("REMOVE", "LOCAL", 20, note="correction")
    ledger.post("ADD", "GLOBAL", 0.75)

    entries = ledger.wallet()["creditEntries"]

    assert [
        (e["action"], e["creditType"], e["amount"], e["amountMinor"], e["balanceAfter"])
        for e in entries
    ] == [
        ("ADD", "GLOBAL", Decimal("0.75"), 75, Decimal("8.25")),
        ("REMOVE", "LOCAL", 20, 20, 50),
        ("SPEND", "GLOBAL", Decimal("2.50"), 250, Decimal("7.50")),
        ("ADD", "LOCAL", 70, 70, 70),
        ("ADD", "GLOBAL", Decimal("10.00"), 1000, Decimal("10.00")),
    ]
    assert {e["reason"] for e in entries} == {"MANUAL"}
    assert [e["note"] for e in entries] == [None, "correction", None, None, "welcome gift"]
    assert [e["idempotencyKey"] for e in entries] == [None, None, None, None, "gift-1"]
    assert all(e["conversionUuid"] is None for e in entries)
    assert [e["createdAt"] for e in entries] == sorted(
        (e["createdAt"] for e in entries), reverse=True
    )


def test_entries_page_newest_first_within_limits(api: Api, db: Database, ledger: Ledger) -> None:
    made = [fund(db, ledger.tenant, ledger.wallet_uuid, n) for n in range(1, 8)]

    page = ledger.wallet(limit=3, offset=2)["creditEntries"]
    empty = ledger.wallet(limit=3, offset=7)["creditEntries"]
    too_many = api.graphql(
        WALLET, {"uuid": ledger.contact_uuid, "limit": 251}, token=ledger.tenant.token
    )
    negative = api.graphql(
        WALLET, {"uuid": ledger.contact_uuid, "offset": -1}, token=ledger.tenant.token
    )

    assert [e["uuid"] for e in page] == [made[4].uuid, made[3].uuid, made[2].uuid]
    assert empty == []
    assert too_many["errors"][0]["message"] == "limit must be between 0 and 250, got 251"
    assert negative["errors"][0]["message"] == "offset must be 0 or more, got -1"


def test_entries_are_never_rewritten_by_later_writes(db: Database, ledger: Ledger) -> None:
    account_id = ledger.tenant.principal.account_id
    ledger.post("ADD", "GLOBAL", 20)
    ledger.post("ADD", "LOCAL", 300)
    ledger.post("SPEND", "GLOBAL", 5)
    written = entry_rows(db, account_id, ledger.wallet_uuid)

    ledger.post("SPEND", "GLOBAL", 500)  # refused
    ledger.convert(200, "LOCAL", "GLOBAL", conversionRate=0.01)
    ledger.post("REMOVE", "GLOBAL", 17, idempotencyKey="fix")
    ledger.post("REMOVE", "GLOBAL", 17, idempotencyKey="fix")
    ledger.post("ADD", "LOCAL", 1)

    now = entry_rows(db, account_id, ledger.wallet_uuid)
    assert now[: len(written)] == written
    assert [row.seq for row in now] == list(range(1, 8))


def test_the_api_has_no_way_to_change_or_delete_an_entry(api: Api, tenant: Tenant) -> None:
    data = api.data("{ __schema { mutationType { fields { name } } } }", token=tenant.token)

    names = {field["name"] for field in data["__schema"]["mutationType"]["fields"]}
    touching_entries = {
        name for name in names if "entry" in name.lower() or "ledger" in name.lower()
    }
    # Both append a new entry: a reversal is a correction written beside the original.
    assert touching_entries == {"addCreditEntry", "reverseCreditEntry"}


def test_the_store_refuses_a_negative_balance_or_an_empty_entry(
    db: Database, ledger: Ledger
) -> None:
    account_id = ledger.tenant.principal.account_id
    fund(db, ledger.tenant, ledger.wallet_uuid, "1.00")
    before = _state(db, ledger)
    wallet_row = (wallets.c.account_id == account_id) & (wallets.c.uuid == ledger.wallet_uuid)

    with pytest.raises(IntegrityError), db.write() as connection:
        connection.execute(update(wallets).where(wallet_row).values(global_balance=-1))
    with pytest.raises(IntegrityError), db.write() as connection:
        connection.execute(update(wallets).where(wallet_row).values(global_held=101))
    with pytest.raises(IntegrityError), db.write() as connection:
        connection.execute(
            insert(credit_entries).values(
                account_id=account_id,
                uuid="00000000-0000-4000-8000-000000000000",
                wallet_uuid=ledger.wallet_uuid,
                seq=99,
                action="ADD",
                credit_type="GLOBAL",
                amount=0,
                balance_after=100,
                reason="MANUAL",
                created_at=utcnow(),
            )
        )

    assert _state(db, ledger) == before


def test_deleting_a_contact_with_entries_erases_it_and_keeps_every_entry(
    api: Api, db: Database, ledger: Ledger
) -> None:
    account_id = ledger.tenant.principal.account_id
    kept = make_contact(db, ledger.tenant)
    fund(db, ledger.tenant, kept.wallet_uuid, "2.00")
    fund(db, ledger.tenant, ledger.wallet_uuid, "3.00")
    kept_entries = entry_rows(db, account_id, kept.wallet_uuid)
    erased_entries = entry_rows(db, account_id, ledger.wallet_uuid)
    balances = [row[3:7] for row in ledger_state(db, account_id).wallets]

    deleted = api.data(
        "mutation($uuid: String!) { deleteContact(uuid: $uuid) { success errors } }",
        {"uuid": ledger.contact_uuid},
        token=ledger.tenant.token,
    )

    assert deleted == {"deleteContact": {"success": True, "errors": []}}
    assert entry_rows(db, account_id, ledger.wallet_uuid) == erased_entries
    assert entry_rows(db, account_id, kept.wallet_uuid) == kept_entries
    assert [row[3:7] for row in ledger_state(db, account_id).wallets] == balances


# --- who may write ----------------------------------------------------------------------------


def test_only_a_write_token_of_the_account_moves_credit(
    api: Api, db: Database, ledger: Ledger, other_tenant: Tenant
) -> None:
    fund(db, ledger.tenant, ledger.wallet_uuid, "5.00")
    reader = ledger.tenant.with_scope(db, "read")
    writer = ledger.tenant.with_scope(db, "write")
    before = _state(db, ledger)
    entry = {
        "walletUuid": ledger.wallet_uuid,
        "action": "SPEND",
        "creditType": "GLOBAL",
        "amount": 1,
    }

    anonymous = api.post(
        "/graphql", {"query": ADD_CREDIT_ENTRY, "variables": {"creditEntry": entry}}
    )
    by_reader = ledger.post("SPEND", "GLOBAL", 1, token=reader.token)
    by_stranger = ledger.post("SPEND", "GLOBAL", 1, token=other_tenant.token)

    assert anonymous.status_code == 401
    assert by_reader["success"] is False
    assert by_reader["userErrors"][0]["code"] == "FORBIDDEN"
    assert by_stranger["userErrors"][0]["code"] == "NOT_FOUND"
    assert _state(db, ledger) == before
    by_writer = ledger.post("SPEND", "GLOBAL", 1, token=writer.token)
    assert by_writer["success"] is True
    assert ledger.balances()[0] == Decimal("4.00")


# --- store trouble ----------------------------------------------------------------------------


def test_a_store_that_cannot_be_reached_mid_write_is_a_503_to_retry(
    api: Api, db: Database, ledger: Ledger, server: ThreadServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fund(db, ledger.tenant, ledger.wallet_uuid, "5.00")
    before = _state(db, ledger)

    @contextmanager
    def unreachable() -> Iterator[Any]:
        refused = Exception("connection failed: FATAL:  sorry, too many clients already")
        raise OperationalError("BEGIN", {}, refused)
        yield  # pragma: no cover

    monkeypatch.setattr(server.db, "write", unreachable)
    entry = {
        "walletUuid": ledger.wallet_uuid,
        "action": "SPEND",
        "creditType": "GLOBAL",
        "amount": 1,
    }
    response = api.post(
        "/graphql",
        {"query": ADD_CREDIT_ENTRY, "variables": {"creditEntry": entry}},
        token=ledger.tenant.token,
    )

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    [error] = response.json()["errors"]
    assert error["message"] == "the store is unavailable; retry the request"
    assert error["extensions"]["code"] == "UNAVAILABLE"
    assert _state(db, ledger) == before


# --- patron ledger verify ---------------------------------------------------------------------


@pytest.fixture
def verified_store(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[str]:
    """A database of its own: the verify tests break it on purpose."""
    with own_store(request, database_url, tmp_path) as url:
        yield url


def _verify(url: str) -> tuple[int, dict[str, Any]]:
    finished = subprocess.run(
        [sys.executable, "-m", "patron", "ledger", "verify", "--database", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return finished.returncode, json.loads(finished.stdout)


def _fill(url: str) -> tuple[Database, Tenant, str, str]:
    """Two wallets with a few entries each, a conversion among them; the one to break first."""
    store = Database(url, pool_size=2)
    tenant = new_tenant(store)
    first = make_contact(store, tenant)
    second = make_contact(store, tenant)
    fund(store, tenant, first.wallet_uuid, "12.00")
    fund(store, tenant, first.wallet_uuid, 300, "LOCAL")
    fund(store, tenant, second.wallet_uuid, "1.50")
    return store, tenant, first.wallet_uuid, second.wallet_uuid


def test_ledger_verify_passes_on_a_consistent_ledger(verified_store: str) -> None:
    store, _, _, _ = _fill(verified_store)
    store.dispose()

    code, report = _verify(verified_store)

    assert code == 0
    assert report == {"ok": True, "wallets": 2, "entries": 3, "problems": []}


def test_ledger_verify_fails_on_a_corrupted_balance(verified_store: str) -> None:
    store, tenant, broken, _ = _fill(verified_store)
    with store.write() as connection:
        connection.execute(
            update(wallets)
            .where(wallets.c.account_id == tenant.principal.account_id, wallets.c.uuid == broken)
            .values(global_balance=wallets.c.global_balance + 1)
        )
    store.dispose()

    code, report = _verify(verified_store)

    assert code == 1
    assert report["ok"] is False
    assert report["problems"] == [
        f"wallet {broken}: stored GLOBAL balance 1201, entries sum to 1200"
    ]


def test_ledger_verify_fails_on_a_broken_chain_or_a_lost_entry(verified_store: str) -> None:
    store, tenant, first, second = _fill(verified_store)
    account_id = tenant.principal.account_id
    first_rows = entry_rows(store, account_id, first)
    second_rows = entry_rows(store, account_id, second)
    with store.write() as connection:
        connection.execute(
            update(credit_entries)
            .where(
                credit_entries.c.account_id == account_id,
                credit_entries.c.uuid == first_rows[1].uuid,
            )
            .values(balance_after=299)
        )
        connection.execute(
            credit_entries.delete().where(
                credit_entries.c.account_id == account_id,
                credit_entries.c.uuid == second_rows[0].uuid,
            )
        )
    store.dispose()

    code, report = _verify(verified_store)

    assert code == 1
    problems = "\n".join(report["problems"])
    assert f"entry {first_rows[1].uuid} says balance_after 299" in problems
    assert f"wallet {second}: stored GLOBAL balance 150, entries sum to 0" in problems
    assert f"wallet {second}: entry_count 1, found 0" in problems
