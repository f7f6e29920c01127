"""Expiry by lot: an ADD may carry expiresAt; spends draw on the soonest-expiring lots first;
credit past its expiry is never spendable, even before a sweep; the sweep (``patron expire
--once``, ``patron worker``) writes the EXPIRY entries once, and releases expired codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from patron.core.clock import as_utc, utcnow
from patron.core.db import Database
from patron.core.errors import DomainError
from patron.jobs.expiry import sweep
from patron.redemptions import service as redemptions
from patron.wallets import service as wallets
from patron.wallets.lot_tables import credit_lots
from patron.wallets.models import CreditType, EntryCommand
from tests.support.client import Api
from tests.support.clock import START, FrozenClock
from tests.support.databases import own_database
from tests.support.holds import (
    assert_store_consistent,
    fund_until,
    holds_state,
    lot_remaining,
    make_code,
    post,
    redemption_row,
    wallet_row,
)
from tests.support.ledger import entry_rows
from tests.support.tenants import Tenant, fund, make_contact, new_tenant

# Far enough for everything any test made to have expired.
END_OF_TIME = datetime(2999, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def store_stays_consistent(db: Database) -> Iterator[None]:
    yield
    assert_store_consistent(db)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    return FrozenClock(monkeypatch)


@pytest.fixture
def wallet(db: Database, tenant: Tenant) -> str:
    return make_contact(db, tenant).wallet_uuid


@pytest.fixture(scope="module")
def sweep_store(
    request: pytest.FixtureRequest, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A store of its own for the sweep tests: a sweep covers every account in its store."""
    with own_database(request, database_url, tmp_path_factory.mktemp("sweep")) as (_, store):
        yield store


@pytest.fixture
def swept(sweep_store: Database) -> Iterator[Database]:
    """The sweep store, left with nothing due for the next test, and consistent."""
    yield sweep_store
    sweep(sweep_store, now=END_OF_TIME)
    assert_store_consistent(sweep_store)


def _available(db: Database, tenant: Tenant, wallet_uuid: str) -> tuple[int, int]:
    with db.read() as connection:
        found = wallets.get_wallet(connection, tenant.principal, wallet_uuid)
    return found.available(CreditType.GLOBAL), found.available(CreditType.LOCAL)


def _entries(db: Database, tenant: Tenant, wallet_uuid: str) -> list[tuple[Any, ...]]:
    return [
        (row.action, row.credit_type, row.amount, row.balance_after, row.reason)
        for row in entry_rows(db, tenant.uuid, wallet_uuid)
    ]


# --- adding expiring credit -------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [0, -1, -86400])
def test_an_add_that_expires_now_or_earlier_is_refused(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock, seconds: int
) -> None:
    before = holds_state(db, tenant.uuid)

    with pytest.raises(DomainError) as refused:
        fund_until(db, tenant, wallet, "10.00", clock.later(seconds=seconds))

    assert (refused.value.code, refused.value.field, refused.value.message) == (
        "INVALID",
        "expiresAt",
        "expiresAt must be in the future",
    )
    assert holds_state(db, tenant.uuid) == before


@pytest.mark.parametrize("action", ["SPEND", "REMOVE"])
def test_only_an_add_can_carry_an_expiry(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock, action: str
) -> None:
    fund(db, tenant, wallet, "10.00")
    before = holds_state(db, tenant.uuid)

    with pytest.raises(DomainError) as refused:
        wallets.post_entry(
            db,
            tenant.principal,
            EntryCommand(
                wallet_uuid=wallet,
                action=action,
                credit_type="GLOBAL",
                amount="1",
                expires_at=clock.later(days=1),
            ),
        )

    assert (refused.value.field, refused.value.message) == (
        "expiresAt",
        "only an ADD can carry expiresAt",
    )
    assert holds_state(db, tenant.uuid) == before


def test_an_expiring_add_is_one_lot_and_counts_in_the_balance(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    entry = fund_until(db, tenant, wallet, "12.50", clock.later(days=30))

    assert (entry.amount, entry.balance_after, entry.expires_at) == (
        1250,
        1250,
        START + timedelta(days=30),
    )
    assert lot_remaining(db, tenant, wallet) == {entry.uuid: 1250}
    assert wallet_row(db, tenant, wallet).open_lots == 1
    assert _available(db, tenant, wallet) == (1250, 0)


# --- spending draws on the soonest-expiring lot first -----------------------------------------


def test_spends_draw_on_the_soonest_expiring_lot_first_then_on_lasting_credit(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    fund(db, tenant, wallet, "10.00")
    month = fund_until(db, tenant, wallet, "10.00", clock.later(days=30))
    week = fund_until(db, tenant, wallet, "10.00", clock.later(days=5))
    fortnight = fund_until(db, tenant, wallet, "10.00", clock.later(days=10))

    post(db, tenant, wallet, "SPEND", "12.00")
    after_first = lot_remaining(db, tenant, wallet)
    post(db, tenant, wallet, "REMOVE", "15.00")
    after_second = lot_remaining(db, tenant, wallet)
    post(db, tenant, wallet, "SPEND", "8.00")

    assert after_first == {week.uuid: 0, fortnight.uuid: 800, month.uuid: 1000}
    assert after_second == {week.uuid: 0, fortnight.uuid: 0, month.uuid: 300}
    assert lot_remaining(db, tenant, wallet) == {week.uuid: 0, fortnight.uuid: 0, month.uuid: 0}
    assert wallet_row(db, tenant, wallet).global_balance == 500
    assert wallet_row(db, tenant, wallet).open_lots == 0


def test_lots_of_one_credit_type_are_not_drawn_by_the_other(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    points = fund_until(db, tenant, wallet, 100, clock.later(days=1), "LOCAL")
    money = fund_until(db, tenant, wallet, "10.00", clock.later(days=2))
    fund(db, tenant, wallet, 50, "LOCAL")

    post(db, tenant, wallet, "SPEND", "4.00")
    post(db, tenant, wallet, "SPEND", 120, "LOCAL")

    assert lot_remaining(db, tenant, wallet) == {points.uuid: 0, money.uuid: 600}
    assert _available(db, tenant, wallet) == (600, 30)


# --- expired credit is never spendable --------------------------------------------------------


def test_expired_credit_is_not_spendable_before_any_sweep(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    fund(db, tenant, wallet, "5.00")
    lot = fund_until(db, tenant, wallet, "10.00", clock.later(hours=1))
    clock.advance(hours=1)
    before = holds_state(db, tenant.uuid)

    refusals = []
    for action in ("SPEND", "REMOVE"):
        with pytest.raises(DomainError) as refused:
            post(db, tenant, wallet, action, "5.01")
        refusals.append(refused.value.message)
    with pytest.raises(DomainError) as held:
        make_code(db, tenant, wallet, "5.01")

    message = "insufficient GLOBAL credit: available balance 5.00, amount 5.01"
    assert refusals == [message, message]
    assert held.value.message == message
    assert holds_state(db, tenant.uuid) == before
    assert _available(db, tenant, wallet) == (500, 0)
    assert wallet_row(db, tenant, wallet).global_balance == 1500
    assert lot_remaining(db, tenant, wallet) == {lot.uuid: 1000}


def test_a_spend_after_expiry_writes_the_due_expiry_in_its_own_transaction(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    fund(db, tenant, wallet, "5.00")
    lot = fund_until(db, tenant, wallet, "10.00", clock.later(hours=1))
    clock.advance(hours=2)

    post(db, tenant, wallet, "SPEND", "5.00")

    assert _entries(db, tenant, wallet) == [
        ("ADD", "GLOBAL", 500, 500, "MANUAL"),
        ("ADD", "GLOBAL", 1000, 1500, "MANUAL"),
        ("SPEND", "GLOBAL", 500, 1000, "MANUAL"),
        ("REMOVE", "GLOBAL", 1000, 0, "EXPIRY"),
    ]
    assert entry_rows(db, tenant.uuid, wallet)[-1].note == f"expired lot of entry {lot.uuid}"
    assert lot_remaining(db, tenant, wallet) == {lot.uuid: 0}
    assert wallet_row(db, tenant, wallet).open_lots == 0


def test_a_code_made_after_expiry_holds_only_live_credit_and_expires_the_rest(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    fund(db, tenant, wallet, "5.00")
    fund_until(db, tenant, wallet, "10.00", clock.later(hours=1))
    live = fund_until(db, tenant, wallet, "3.00", clock.later(days=3))
    clock.advance(hours=2)

    make_code(db, tenant, wallet, "7.00")

    assert [entry[0:3] + entry[4:] for entry in _entries(db, tenant, wallet)][-1] == (
        "REMOVE",
        "GLOBAL",
        1000,
        "EXPIRY",
    )
    assert wallet_row(db, tenant, wallet) == type(wallet_row(db, tenant, wallet))(
        global_balance=800, global_held=700, local_balance=0, local_held=0, open_lots=0
    )
    assert lot_remaining(db, tenant, wallet)[live.uuid] == 0
    assert _available(db, tenant, wallet) == (100, 0)


def test_expiry_is_exact_to_the_instant(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    fund_until(db, tenant, wallet, "10.00", clock.later(hours=1))

    clock.advance(minutes=59, seconds=59, microseconds=999_999)
    just_before = _available(db, tenant, wallet)
    clock.advance(microseconds=1)
    at_expiry = _available(db, tenant, wallet)

    assert (just_before, at_expiry) == ((1000, 0), (0, 0))


# --- Wallet.expiringCredit --------------------------------------------------------------------

WALLET = """
query($uuid: String) {
  account {
    contacts(uuid: $uuid) {
      wallet {
        globalCreditBalance localCreditBalance globalCreditHeld localCreditHeld
        expiringCredit { creditType amount expiresAt entryUuid }
      }
    }
  }
}
"""

ADD = """
mutation($e: AddCreditEntryInput!) {
  addCreditEntry(creditEntry: $e) {
    success creditEntry { uuid amount balanceAfter } errors userErrors { field code message }
  }
}
"""


def _wallet(api: Api, tenant: Tenant, contact_uuid: str) -> dict[str, Any]:
    data = api.data(WALLET, {"uuid": contact_uuid}, token=tenant.token)
    found: dict[str, Any] = data["account"]["contacts"][0]["wallet"]
    return found


def test_expiring_credit_shows_what_is_left_in_each_live_lot_soonest_first(
    api: Api, db: Database, tenant: Tenant, clock: FrozenClock
) -> None:
    contact = make_contact(db, tenant)
    wallet_uuid = contact.wallet_uuid
    fund(db, tenant, wallet_uuid, "7.00")
    late = fund_until(db, tenant, wallet_uuid, "20.00", clock.later(days=10))
    soon = fund_until(db, tenant, wallet_uuid, "10.00", clock.later(days=2))
    points = fund_until(db, tenant, wallet_uuid, 5, clock.later(days=1), "LOCAL")
    spent = fund_until(db, tenant, wallet_uuid, "1.00", clock.later(hours=12))
    post(db, tenant, wallet_uuid, "SPEND", "5.00")  # 1.00 of the 12-hour lot, 4.00 of `soon`
    make_code(db, tenant, wallet_uuid, "3.00")  # 3.00 more of `soon`

    now = _wallet(api, tenant, contact.customer.uuid)
    clock.advance(days=1)
    a_day_later = _wallet(api, tenant, contact.customer.uuid)

    assert now == {
        "globalCreditBalance": Decimal("30.00"),
        "localCreditBalance": 5,
        "globalCreditHeld": Decimal("3.00"),
        "localCreditHeld": 0,
        "expiringCredit": [
            {
                "creditType": "LOCAL",
                "amount": 5,
                "expiresAt": "2031-03-02T09:00:00+00:00",
                "entryUuid": points.uuid,
            },
            {
                "creditType": "GLOBAL",
                "amount": Decimal("3.00"),
                "expiresAt": "2031-03-03T09:00:00+00:00",
                "entryUuid": soon.uuid,
            },
            {
                "creditType": "GLOBAL",
                "amount": Decimal("20.00"),
                "expiresAt": "2031-03-11T09:00:00+00:00",
                "entryUuid": late.uuid,
            },
        ],
    }
    assert spent.uuid not in {lot["entryUuid"] for lot in a_day_later["expiringCredit"]}
    assert a_day_later["localCreditBalance"] == 0
    assert [lot["entryUuid"] for lot in a_day_later["expiringCredit"]] == [soon.uuid, late.uuid]


def test_an_add_over_the_api_takes_expires_at_and_refuses_a_past_one(
    api: Api, db: Database, tenant: Tenant, clock: FrozenClock
) -> None:
    contact = make_contact(db, tenant)
    entry = {"walletUuid": contact.wallet_uuid, "action": "ADD", "creditType": "GLOBAL"}
    before = holds_state(db, tenant.uuid)

    past = api.data(
        ADD, {"e": {**entry, "amount": 5, "expiresAt": "2031-03-01T08:59:59Z"}}, token=tenant.token
    )
    assert holds_state(db, tenant.uuid) == before
    future = api.data(
        ADD,
        {"e": {**entry, "amount": "5.25", "expiresAt": "2031-04-01T09:00:00+00:00"}},
        token=tenant.token,
    )

    assert past["addCreditEntry"] == {
        "success": False,
        "creditEntry": None,
        "errors": ["expiresAt must be in the future"],
        "userErrors": [
            {"field": "expiresAt", "code": "INVALID", "message": "expiresAt must be in the future"}
        ],
    }
    assert future["addCreditEntry"]["success"] is True
    assert _wallet(api, tenant, contact.customer.uuid)["expiringCredit"] == [
        {
            "creditType": "GLOBAL",
            "amount": Decimal("5.25"),
            "expiresAt": "2031-04-01T09:00:00+00:00",
            "entryUuid": future["addCreditEntry"]["creditEntry"]["uuid"],
        }
    ]


def test_an_expiry_given_in_another_offset_is_the_same_instant(
    api: Api, db: Database, tenant: Tenant, clock: FrozenClock
) -> None:
    contact = make_contact(db, tenant)
    entry = {"walletUuid": contact.wallet_uuid, "action": "ADD", "creditType": "GLOBAL"}
    api.data(
        ADD,
        {"e": {**entry, "amount": 3, "expiresAt": "2031-03-01T11:30:00+02:00"}},
        token=tenant.token,
    )

    clock.advance(minutes=29, seconds=59)
    before = _wallet(api, tenant, contact.customer.uuid)
    clock.advance(seconds=1)
    at = _wallet(api, tenant, contact.customer.uuid)

    assert before["globalCreditBalance"] == Decimal("3.00")
    assert [lot["expiresAt"] for lot in before["expiringCredit"]] == ["2031-03-01T09:30:00+00:00"]
    assert at["globalCreditBalance"] == Decimal("0.00")
    assert at["expiringCredit"] == []


# --- the sweep --------------------------------------------------------------------------------


def _expiry_rows(store: Database, tenant: Tenant) -> list[tuple[Any, ...]]:
    return [
        (row.wallet_uuid, row.credit_type, row.amount, row.note)
        for row in entry_rows(store, tenant.uuid)
        if row.reason == "EXPIRY"
    ]


def test_the_sweep_expires_each_due_lot_once_and_a_rerun_expires_nothing(
    swept: Database, clock: FrozenClock
) -> None:
    tenant = new_tenant(swept)
    first, second = make_contact(swept, tenant).wallet_uuid, make_contact(swept, tenant).wallet_uuid
    fund(swept, tenant, first, "5.00")
    hour = fund_until(swept, tenant, first, "10.00", clock.later(hours=1))
    later = fund_until(swept, tenant, first, "20.00", clock.later(hours=3))
    points = fund_until(swept, tenant, second, 7, clock.later(hours=1), "LOCAL")
    post(swept, tenant, first, "SPEND", "4.00")

    report = sweep(swept, now=START + timedelta(hours=2))
    after_first = holds_state(swept, tenant.uuid)
    rerun = sweep(swept, now=START + timedelta(hours=2))

    assert (report.lots_expired, report.codes_expired, report.wallets_skipped) == (2, 0, 0)
    assert (rerun.lots_expired, rerun.codes_expired) == (0, 0)
    assert holds_state(swept, tenant.uuid) == after_first
    assert sorted(_expiry_rows(swept, tenant)) == sorted(
        [
            (first, "GLOBAL", 600, f"expired lot of entry {hour.uuid}"),
            (second, "LOCAL", 7, f"expired lot of entry {points.uuid}"),
        ]
    )
    assert lot_remaining(swept, tenant, first) == {hour.uuid: 0, later.uuid: 2000}
    assert wallet_row(swept, tenant, first).global_balance == 2500
    assert wallet_row(swept, tenant, second).local_balance == 0
    assert (
        wallet_row(swept, tenant, first).open_lots,
        wallet_row(swept, tenant, second).open_lots,
    ) == (1, 0)
    with swept.read() as connection:
        expiry_links = dict(
            connection.execute(
                select(credit_lots.c.entry_uuid, credit_lots.c.expiry_entry_uuid).where(
                    credit_lots.c.account_id == tenant.uuid
                )
            ).all()
        )
    expiry_uuids = {row.uuid for row in entry_rows(swept, tenant.uuid) if row.reason == "EXPIRY"}
    assert {expiry_links[hour.uuid], expiry_links[points.uuid]} == expiry_uuids
    assert expiry_links[later.uuid] is None
    assert sweep(swept, now=START + timedelta(hours=3)).lots_expired == 1


def test_the_sweep_works_in_batches(swept: Database, clock: FrozenClock) -> None:
    tenant = new_tenant(swept)
    wallet_uuids = [make_contact(swept, tenant).wallet_uuid for _ in range(3)]
    for wallet_uuid in wallet_uuids:
        fund(swept, tenant, wallet_uuid, "5.00")
        fund_until(swept, tenant, wallet_uuid, "1.00", clock.later(hours=1))
        make_code(swept, tenant, wallet_uuid, "2.00", expires_at=clock.later(hours=1))

    report = sweep(swept, now=START + timedelta(hours=1), batch_size=1)

    assert (report.lots_expired, report.codes_expired) == (3, 3)
    assert [wallet_row(swept, tenant, uuid).global_balance for uuid in wallet_uuids] == [500] * 3
    assert [wallet_row(swept, tenant, uuid).global_held for uuid in wallet_uuids] == [0] * 3


def test_the_sweep_expires_codes_and_gives_their_lots_back(
    swept: Database, clock: FrozenClock
) -> None:
    tenant = new_tenant(swept)
    wallet_uuid = make_contact(swept, tenant).wallet_uuid
    lot = fund_until(swept, tenant, wallet_uuid, "10.00", clock.later(days=10))
    code = make_code(swept, tenant, wallet_uuid, "4.00", expires_at=clock.later(hours=1))
    kept = make_code(swept, tenant, wallet_uuid, "1.00", expires_at=clock.later(hours=3))
    assert lot_remaining(swept, tenant, wallet_uuid) == {lot.uuid: 500}

    report = sweep(swept, now=START + timedelta(hours=2))

    assert (report.lots_expired, report.codes_expired) == (0, 1)
    stored = redemption_row(swept, tenant, code.uuid)
    assert (stored.status, stored.release_reason, as_utc(stored.released_at)) == (
        "EXPIRED",
        "REDEMPTION_REFUND",
        START + timedelta(hours=2),
    )
    assert redemption_row(swept, tenant, kept.uuid).status == "ACTIVE"
    assert lot_remaining(swept, tenant, wallet_uuid) == {lot.uuid: 900}
    assert wallet_row(swept, tenant, wallet_uuid).global_held == 100
    assert [row.action for row in entry_rows(swept, tenant.uuid, wallet_uuid)] == ["ADD"]
    with pytest.raises(DomainError) as refused:
        redemptions.redeem_code(swept, tenant.principal, code.code)
    assert refused.value.code == "CODE_EXPIRED"


def test_a_code_and_the_lot_it_holds_expiring_together_are_swept_in_one_pass(
    swept: Database, clock: FrozenClock
) -> None:
    tenant = new_tenant(swept)
    wallet_uuid = make_contact(swept, tenant).wallet_uuid
    lot = fund_until(swept, tenant, wallet_uuid, "10.00", clock.later(hours=1))
    make_code(swept, tenant, wallet_uuid, "4.00", expires_at=clock.later(hours=2))

    report = sweep(swept, now=START + timedelta(hours=3))
    rerun = sweep(swept, now=START + timedelta(hours=3))

    assert (report.lots_expired, report.codes_expired) == (1, 1)
    assert (rerun.lots_expired, rerun.codes_expired) == (0, 0)
    assert _expiry_rows(swept, tenant) == [
        (wallet_uuid, "GLOBAL", 1000, f"expired lot of entry {lot.uuid}")
    ]
    assert wallet_row(swept, tenant, wallet_uuid) == type(wallet_row(swept, tenant, wallet_uuid))(
        global_balance=0, global_held=0, local_balance=0, local_held=0, open_lots=0
    )


# --- the commands -----------------------------------------------------------------------------


def _lot_due_now(store: Database, monkeypatch: pytest.MonkeyPatch) -> tuple[Tenant, str, str]:
    """A wallet with 3.00 lasting and a 2.00 lot that expired a minute ago (real time)."""
    real_now = utcnow()
    clock = FrozenClock(monkeypatch, real_now - timedelta(hours=1))
    tenant = new_tenant(store)
    wallet_uuid = make_contact(store, tenant).wallet_uuid
    fund(store, tenant, wallet_uuid, "3.00")
    lot = fund_until(store, tenant, wallet_uuid, "2.00", real_now - timedelta(minutes=1))
    monkeypatch.undo()
    assert clock.now < real_now
    return tenant, wallet_uuid, lot.uuid


def _cli_environment(store: Database) -> dict[str, str]:
    return {**os.environ, "PATRON_DATABASE_URL": store.engine.url.render_as_string(False)}


def test_patron_expire_once_runs_one_sweep_and_prints_its_report(
    swept: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant, wallet_uuid, lot_uuid = _lot_due_now(swept, monkeypatch)

    finished = subprocess.run(
        [sys.executable, "-m", "patron", "expire", "--once"],
        env=_cli_environment(swept),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    rerun = sweep(swept)

    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    assert (report["lots_expired"], report["codes_expired"], report["wallets_skipped"]) == (1, 0, 0)
    assert rerun.lots_expired == 0
    assert _expiry_rows(swept, tenant) == [
        (wallet_uuid, "GLOBAL", 200, f"expired lot of entry {lot_uuid}")
    ]
    assert wallet_row(swept, tenant, wallet_uuid).global_balance == 300


# ``python -m patron`` as a terminal starts it: Ctrl-C interrupts, also when the test runs
# under something that started it in the background (a shell's ``&`` ignores SIGINT, the
# children inherit that, and Python then installs no handler of its own).
_INTERRUPTIBLE = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'patron'; runpy.run_module('patron', run_name='__main__', alter_sys=True)"
)


def _signal_state(pid: int) -> str:
    """The process's blocked, ignored and caught signals, as the kernel keeps them."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return " ".join(line for line in lines if line.startswith(("SigBlk", "SigIgn", "SigCgt")))


def test_patron_worker_keeps_sweeping_until_stopped(
    swept: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tenant, wallet_uuid, _ = _lot_due_now(swept, monkeypatch)
    log = tmp_path / "worker.log"

    with log.open("wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "-c", _INTERRUPTIBLE, "worker", "--interval", "0.2"],
            env=_cli_environment(swept),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not _expiry_rows(swept, tenant):
                time.sleep(0.1)
            time.sleep(0.5)  # a few more passes, which must expire nothing more
        finally:
            state = _signal_state(worker.pid)
            worker.send_signal(signal.SIGINT)
            try:
                code = worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                pytest.fail(f"the worker ignored Ctrl-C ({state}): {log.read_text()}")

    printed = log.read_text()
    assert code == 0, printed
    assert len(_expiry_rows(swept, tenant)) == 1
    assert wallet_row(swept, tenant, wallet_uuid).global_balance == 300
    assert "sweeping expiry every 0.2s" in printed.splitlines()[0]
    assert printed.rstrip().endswith("patron worker: stopped")
    assert printed.count('"lots_expired": 1') == 1


def test_credit_refunded_from_an_order_goes_back_into_the_lots_it_came_from(
    db: Database, tenant: Tenant
) -> None:
    from patron.orders import service as orders
    from patron.orders.models import OrderCommand, RefundCommand

    contact = make_contact(db, tenant)
    expires = utcnow() + timedelta(days=30)
    wallets.post_entry(
        db,
        tenant.principal,
        EntryCommand(contact.wallet_uuid, "ADD", "GLOBAL", Decimal("10.00"), expires_at=expires),
    )
    order = orders.record_order(
        db,
        tenant.principal,
        OrderCommand(
            external_id="o-lots",
            total="10.00",
            currency="USD",
            customer_uuid=contact.customer.uuid,
            status="COMPLETED",
            credit_used="10.00",
        ),
    )

    orders.refund_order(
        db,
        tenant.principal,
        RefundCommand(order_uuid=order.uuid, external_id="r-1", amount="10.00"),
    )

    with db.read() as connection:
        upcoming = wallets.upcoming_lots(connection, tenant.principal, [contact.wallet_uuid])
    assert [(lot.remaining, lot.expires_at) for lot in upcoming[contact.wallet_uuid]] == [
        (1000, expires)
    ]
