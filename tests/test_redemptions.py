"""Redemption codes in the core: a code holds its amount (two-phase), redeeming captures the hold
as one SPEND, cancelling or expiring releases it and gives its lots back. Codes are unguessable,
free of look-alike characters, unique per account, and found whatever the dashes and case."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from patron.core.clock import as_utc
from patron.core.db import Database
from patron.core.errors import DomainError
from patron.redemptions import codes
from patron.redemptions import service as redemptions
from patron.redemptions.models import NewRedemption, RedemptionStatus
from patron.redemptions.tables import redemptions as redemption_rows
from patron.wallets import service as wallets
from patron.wallets.models import Action, Reason
from tests.support.clock import START, FrozenClock
from tests.support.fast_reads import statements
from tests.support.holds import (
    assert_store_consistent,
    fund_until,
    holds_state,
    lot_remaining,
    make_code,
    outbox_types,
    post,
    redemption_row,
    wallet_row,
)
from tests.support.ledger import entry_rows
from tests.support.tenants import Tenant, fund, make_contact

CODE = re.compile(f"^[{codes.ALPHABET}]{{16}}$")


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


def _refused(error: pytest.ExceptionInfo[DomainError]) -> tuple[str, str | None, str]:
    return error.value.code, error.value.field, error.value.message


# --- the hold ---------------------------------------------------------------------------------


def test_a_code_holds_its_amount_against_the_available_balance(
    db: Database, tenant: Tenant, wallet: str
) -> None:
    fund(db, tenant, wallet, "50.00")

    code = make_code(db, tenant, wallet, "20.00")

    assert (code.status, code.amount, code.credit_type.value) == (
        RedemptionStatus.ACTIVE,
        2000,
        "GLOBAL",
    )
    assert wallet_row(db, tenant, wallet).global_balance == 5000
    assert wallet_row(db, tenant, wallet).global_held == 2000
    with db.read() as connection:
        assert (
            wallets.get_wallet(connection, tenant.principal, wallet).available(code.credit_type)
            == 3000
        )
    assert [row.action for row in entry_rows(db, tenant.uuid, wallet)] == ["ADD"]


def test_held_credit_cannot_be_spent(db: Database, tenant: Tenant, wallet: str) -> None:
    fund(db, tenant, wallet, "50.00")
    make_code(db, tenant, wallet, "20.00")
    before = holds_state(db, tenant.uuid)

    with pytest.raises(DomainError) as refused:
        post(db, tenant, wallet, "SPEND", "30.01")

    assert _refused(refused) == (
        "INSUFFICIENT_CREDIT",
        "amount",
        "insufficient GLOBAL credit: available balance 30.00 (20.00 held by redemption codes), "
        "amount 30.01",
    )
    assert holds_state(db, tenant.uuid) == before
    spent = post(db, tenant, wallet, "SPEND", "30.00")
    assert spent.balance_after == 2000
    assert wallet_row(db, tenant, wallet).global_held == 2000


def test_held_credit_cannot_be_held_twice(db: Database, tenant: Tenant, wallet: str) -> None:
    fund(db, tenant, wallet, "30.00")
    make_code(db, tenant, wallet, "20.00")
    before = holds_state(db, tenant.uuid)

    with pytest.raises(DomainError) as refused:
        make_code(db, tenant, wallet, "20.00")

    assert _refused(refused) == (
        "INSUFFICIENT_CREDIT",
        "amount",
        "insufficient GLOBAL credit: available balance 10.00 (20.00 held by redemption codes), "
        "amount 20.00",
    )
    assert holds_state(db, tenant.uuid) == before


def test_a_batch_of_codes_holds_each_amount_or_writes_none(
    db: Database, tenant: Tenant, wallet: str
) -> None:
    fund(db, tenant, wallet, "35.00")

    made = redemptions.create_redemptions(
        db,
        tenant.principal,
        NewRedemption(credit_type="GLOBAL", amount=Decimal(10), wallet_uuid=wallet, quantity=3),
    )
    before = holds_state(db, tenant.uuid)
    with pytest.raises(DomainError) as refused:
        redemptions.create_redemptions(
            db,
            tenant.principal,
            NewRedemption(credit_type="GLOBAL", amount=Decimal(3), wallet_uuid=wallet, quantity=2),
        )

    assert len({code.code for code in made}) == 3
    assert {code.amount for code in made} == {1000}
    assert wallet_row(db, tenant, wallet).global_held == 3000
    assert refused.value.code == "INSUFFICIENT_CREDIT"
    assert holds_state(db, tenant.uuid) == before


def test_points_are_held_like_money(db: Database, tenant: Tenant, wallet: str) -> None:
    fund(db, tenant, wallet, 500, "LOCAL")

    code = make_code(db, tenant, wallet, 120, "LOCAL")

    assert code.amount == 120
    assert wallet_row(db, tenant, wallet) == wallet_row(db, tenant, wallet).__class__(
        global_balance=0, global_held=0, local_balance=500, local_held=120, open_lots=0
    )


def test_a_code_can_be_made_for_a_contact_by_its_uuid(db: Database, tenant: Tenant) -> None:
    contact = make_contact(db, tenant)
    fund(db, tenant, contact.wallet_uuid, "5.00")

    made = redemptions.create_redemptions(
        db,
        tenant.principal,
        NewRedemption(
            credit_type="GLOBAL", amount="5", customer_uuid=contact.customer.uuid, note="gift"
        ),
    )

    assert [(code.wallet_uuid, code.customer_uuid, code.note) for code in made] == [
        (contact.wallet_uuid, contact.customer.uuid, "gift")
    ]
    assert wallet_row(db, tenant, contact.wallet_uuid).global_held == 500


def test_the_same_idempotency_key_returns_the_first_codes_and_holds_once(
    db: Database, tenant: Tenant, wallet: str
) -> None:
    fund(db, tenant, wallet, "50.00")
    command = NewRedemption(
        credit_type="GLOBAL", amount="10", wallet_uuid=wallet, quantity=2, idempotency_key="gift-7"
    )

    first = redemptions.create_redemptions(db, tenant.principal, command)
    after_first = holds_state(db, tenant.uuid)
    again = redemptions.create_redemptions(db, tenant.principal, command)

    assert [code.uuid for code in again] == [code.uuid for code in first]
    assert holds_state(db, tenant.uuid) == after_first
    assert wallet_row(db, tenant, wallet).global_held == 2000


# --- redeeming --------------------------------------------------------------------------------


def test_redeeming_captures_the_hold_as_one_spend(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    fund(db, tenant, wallet, "50.00")
    code = make_code(db, tenant, wallet, "20.00")
    clock.advance(minutes=5)

    redeemed = redemptions.redeem_code(db, tenant.principal, code.code)

    entry = redeemed.entry
    assert (entry.action, entry.reason, entry.amount, entry.balance_after) == (
        Action.SPEND,
        Reason.REDEMPTION,
        2000,
        3000,
    )
    assert entry.redemption_uuid == code.uuid
    assert entry.note == f"redemption code {codes.display(code.code)}"
    assert (redeemed.redemption.status, redeemed.redemption.redeemed_at) == (
        RedemptionStatus.REDEEMED,
        clock.now,
    )
    # The SPEND is named as the code is claimed, in the same statement.
    assert redeemed.redemption.spend_entry_uuid == entry.uuid
    stored = redemption_row(db, tenant, code.uuid)
    assert (stored.status, stored.spend_entry_uuid, stored.released_at) == (
        "REDEEMED",
        entry.uuid,
        None,
    )
    assert wallet_row(db, tenant, wallet).global_balance == 3000
    assert wallet_row(db, tenant, wallet).global_held == 0
    assert sorted(outbox_types(db, tenant.uuid)) == [
        "contact.created",
        "redemption_code.created",
        "redemption_code.redeemed",
        "wallet.credit_added",
        "wallet.credit_spent",
    ]


def test_a_redeemed_codes_event_goes_with_its_spend_on_postgresql(
    db: Database, tenant: Tenant, wallet: str
) -> None:
    """On PostgreSQL the SPEND, its event and the code's event are one statement; SQLite
    writes the code's event after the SPEND's. Both events are there, the code's last."""
    fund(db, tenant, wallet, "50.00")
    code = make_code(db, tenant, wallet, "20.00")
    with statements(db) as seen:
        redeemed = redemptions.redeem_code(db, tenant.principal, code.code)
    assert redeemed.entry is not None
    queued_alone = [sql for sql in seen if sql.lstrip().upper().startswith("INSERT INTO OUTBOX")]
    if db.is_sqlite:
        assert len(queued_alone) == 2  # the SPEND's event, the code's
    else:
        assert queued_alone == []
    types = outbox_types(db, tenant.uuid)
    assert types[-2:] == ["wallet.credit_spent", "redemption_code.redeemed"]


def test_a_code_is_redeemed_once(db: Database, tenant: Tenant, wallet: str) -> None:
    fund(db, tenant, wallet, "50.00")
    code = make_code(db, tenant, wallet, "20.00")
    redemptions.redeem_code(db, tenant.principal, code.code)
    before = holds_state(db, tenant.uuid)

    with pytest.raises(DomainError) as again:
        redemptions.redeem_code(db, tenant.principal, code.code)
    with pytest.raises(DomainError) as cancelled_after:
        redemptions.cancel_code(db, tenant.principal, code.code)

    message = f"code {codes.display(code.code)} was already redeemed"
    assert _refused(again) == ("ALREADY_REDEEMED", "code", message)
    assert _refused(cancelled_after) == ("ALREADY_REDEEMED", "code", message)
    assert holds_state(db, tenant.uuid) == before
    spends = [row for row in entry_rows(db, tenant.uuid, wallet) if row.reason == "REDEMPTION"]
    assert [(row.action, row.amount) for row in spends] == [("SPEND", 2000)]


# --- cancelling -------------------------------------------------------------------------------


def test_cancelling_releases_the_hold_and_writes_no_entry(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    fund(db, tenant, wallet, "50.00")
    code = make_code(db, tenant, wallet, "20.00")
    clock.advance(hours=1)

    cancelled = redemptions.cancel_code(db, tenant.principal, code.code)

    assert (cancelled.status, cancelled.released_at, cancelled.release_reason) == (
        RedemptionStatus.CANCELLED,
        clock.now,
        "REDEMPTION_REFUND",
    )
    assert cancelled.redeemed_at is None
    assert wallet_row(db, tenant, wallet).global_balance == 5000
    assert wallet_row(db, tenant, wallet).global_held == 0
    assert [row.action for row in entry_rows(db, tenant.uuid, wallet)] == ["ADD"]
    assert post(db, tenant, wallet, "SPEND", "50.00").balance_after == 0


def test_a_cancelled_code_cannot_be_redeemed_or_cancelled_again(
    db: Database, tenant: Tenant, wallet: str
) -> None:
    fund(db, tenant, wallet, "50.00")
    code = make_code(db, tenant, wallet, "20.00")
    redemptions.cancel_code(db, tenant.principal, code.code)
    before = holds_state(db, tenant.uuid)

    with pytest.raises(DomainError) as redeemed:
        redemptions.redeem_code(db, tenant.principal, code.code)
    with pytest.raises(DomainError) as cancelled:
        redemptions.cancel_code(db, tenant.principal, code.code)

    message = f"code {codes.display(code.code)} was cancelled"
    assert _refused(redeemed) == ("CODE_CANCELLED", "code", message)
    assert _refused(cancelled) == ("CODE_CANCELLED", "code", message)
    assert holds_state(db, tenant.uuid) == before


def test_a_code_past_its_expiry_is_refused_before_any_sweep_and_released_by_it(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    fund(db, tenant, wallet, "50.00")
    code = make_code(db, tenant, wallet, "20.00", expires_at=clock.later(hours=1))
    clock.advance(hours=1)
    before = holds_state(db, tenant.uuid)

    with pytest.raises(DomainError) as redeemed:
        redemptions.redeem_code(db, tenant.principal, code.code)
    with pytest.raises(DomainError) as cancelled:
        redemptions.cancel_code(db, tenant.principal, code.code)
    assert holds_state(db, tenant.uuid) == before
    with db.write() as connection:
        expired = redemptions.expire_codes(connection, tenant.principal, clock.now)

    message = f"code {codes.display(code.code)} has expired"
    assert _refused(redeemed) == ("CODE_EXPIRED", "code", message)
    assert _refused(cancelled) == ("CODE_EXPIRED", "code", message)
    assert expired == 1
    stored = redemption_row(db, tenant, code.uuid)
    assert (stored.status, stored.release_reason) == ("EXPIRED", "REDEMPTION_REFUND")
    assert as_utc(stored.released_at) == clock.now
    assert wallet_row(db, tenant, wallet).global_held == 0
    assert wallet_row(db, tenant, wallet).global_balance == 5000
    with pytest.raises(DomainError) as after_sweep:
        redemptions.redeem_code(db, tenant.principal, code.code)
    assert _refused(after_sweep) == ("CODE_EXPIRED", "code", message)


def test_a_code_is_redeemable_until_its_expiry(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    fund(db, tenant, wallet, "50.00")
    code = make_code(db, tenant, wallet, "20.00", expires_at=clock.later(hours=1))
    clock.advance(minutes=59, seconds=59)

    redeemed = redemptions.redeem_code(db, tenant.principal, code.code)

    assert redeemed.entry.amount == 2000
    with db.write() as connection:
        assert redemptions.expire_codes(connection, tenant.principal, clock.later(days=1)) == 0


# --- lots under a hold ------------------------------------------------------------------------


def test_a_hold_draws_on_the_soonest_expiring_lots_and_cancelling_gives_them_back(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    fund(db, tenant, wallet, "10.00")
    late = fund_until(db, tenant, wallet, "20.00", clock.later(days=10))
    soon = fund_until(db, tenant, wallet, "5.00", clock.later(days=2))

    code = make_code(db, tenant, wallet, "22.00")
    held_lots = lot_remaining(db, tenant, wallet)
    redemptions.cancel_code(db, tenant.principal, code.code)

    assert held_lots == {late.uuid: 300, soon.uuid: 0}
    assert lot_remaining(db, tenant, wallet) == {late.uuid: 2000, soon.uuid: 500}
    assert wallet_row(db, tenant, wallet).open_lots == 2


def test_a_redeemed_code_keeps_the_lots_it_drew_on_spent(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    lot = fund_until(db, tenant, wallet, "20.00", clock.later(days=10))
    code = make_code(db, tenant, wallet, "15.00")

    redemptions.redeem_code(db, tenant.principal, code.code)

    assert lot_remaining(db, tenant, wallet) == {lot.uuid: 500}
    assert wallet_row(db, tenant, wallet).global_balance == 500


def test_a_hold_cancelled_after_its_lot_expired_gives_back_expired_credit(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    lot = fund_until(db, tenant, wallet, "10.00", clock.later(hours=1))
    code = make_code(db, tenant, wallet, "4.00")
    clock.advance(hours=2)

    redemptions.cancel_code(db, tenant.principal, code.code)
    with db.read() as connection:
        available = wallets.get_wallet(connection, tenant.principal, wallet).available(
            code.credit_type
        )
    fund(db, tenant, wallet, "1.00")
    post(db, tenant, wallet, "SPEND", "1.00")

    assert available == 0
    assert lot_remaining(db, tenant, wallet) == {lot.uuid: 0}
    assert [(row.action, row.amount, row.reason) for row in entry_rows(db, tenant.uuid, wallet)][
        -1
    ] == ("REMOVE", 1000, "EXPIRY")
    assert wallet_row(db, tenant, wallet).global_balance == 0


# --- the codes themselves ---------------------------------------------------------------------


def test_codes_carry_at_least_60_bits_without_look_alike_characters() -> None:
    drawn = [codes.new_code() for _ in range(2000)]

    assert math.log2(len(codes.ALPHABET)) * codes.LENGTH >= 60
    assert len(set(codes.ALPHABET)) == len(codes.ALPHABET) == 25
    assert set(codes.ALPHABET).isdisjoint("0O1IL5S2Z8B")
    assert all(CODE.match(code) for code in drawn)
    assert set("".join(drawn)) == set(codes.ALPHABET)
    assert len(set(drawn)) == len(drawn)


def test_codes_are_shown_in_groups_of_four_and_read_back_in_any_form(
    db: Database, tenant: Tenant, wallet: str
) -> None:
    fund(db, tenant, wallet, "10.00")
    code = make_code(db, tenant, wallet, "1.00")
    shown = codes.display(code.code)

    assert CODE.match(code.code)
    assert re.fullmatch(r"(\w{4}-){3}\w{4}", shown)
    with db.read() as connection:
        found = [
            redemptions.find_code(connection, tenant.principal, typed)
            for typed in (code.code, shown, shown.lower(), f"  {shown.replace('-', ' ')} ")
        ]
        missing = redemptions.find_code(connection, tenant.principal, shown[:-1])
    assert [item.uuid if item else None for item in found] == [code.uuid] * 4
    assert missing is None
    assert redemptions.redeem_code(db, tenant.principal, shown.lower()).entry.amount == 100


def test_a_code_is_unique_per_account_and_a_taken_one_is_drawn_again(
    db: Database, tenant: Tenant, other_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = make_contact(db, tenant).wallet_uuid
    theirs = make_contact(db, other_tenant).wallet_uuid
    fund(db, tenant, ours, "10.00")
    fund(db, other_tenant, theirs, "10.00")
    drawn = iter(["ACDEFGHJKMNPQRTU", "ACDEFGHJKMNPQRTU", "ACDEFGHJKMNPQRTU", "VWXY34679ACDEFGH"])
    monkeypatch.setattr(codes, "new_code", lambda: next(drawn))

    first = make_code(db, tenant, ours, "1.00")
    same_text_elsewhere = make_code(db, other_tenant, theirs, "1.00")
    second = make_code(db, tenant, ours, "1.00")

    assert first.code == same_text_elsewhere.code == "ACDEFGHJKMNPQRTU"
    assert second.code == "VWXY34679ACDEFGH"
    with pytest.raises(IntegrityError), db.write() as connection:
        connection.execute(
            insert(redemption_rows).values(
                account_id=tenant.uuid,
                uuid="00000000-0000-4000-8000-00000000c0de",
                code=first.code,
                customer_uuid=first.customer_uuid,
                wallet_uuid=ours,
                credit_type="GLOBAL",
                amount=1,
                status="ACTIVE",
                created_at=START,
                updated_at=START,
            )
        )


# --- refusals ---------------------------------------------------------------------------------

BAD_CREATES: list[tuple[dict[str, Any], tuple[str, str, str]]] = [
    (
        {"amount": "0"},
        ("INVALID", "rewardValue", "rewardValue must be greater than 0, got 0"),
    ),
    (
        {"amount": "-5"},
        ("INVALID", "rewardValue", "rewardValue must be greater than 0, got -5"),
    ),
    (
        {"amount": "1.001"},
        ("INVALID", "rewardValue", "rewardValue 1.001 has more than 2 decimal place(s)"),
    ),
    (
        {"credit_type": "CASH"},
        ("INVALID", "creditType", "creditType must be one of GLOBAL, LOCAL, got 'CASH'"),
    ),
    ({"quantity": 0}, ("INVALID", "quantity", "quantity must be 1 to 50")),
    ({"quantity": 51}, ("INVALID", "quantity", "quantity must be 1 to 50")),
    (
        {"expires_at": START},
        ("INVALID", "expiresAt", "expiresAt must be in the future"),
    ),
    (
        {"wallet_uuid": "00000000-0000-4000-8000-000000000000"},
        (
            "NOT_FOUND",
            "walletUuid",
            "no wallet with uuid '00000000-0000-4000-8000-000000000000'",
        ),
    ),
    (
        {"wallet_uuid": None, "customer_uuid": "nope"},
        ("NOT_FOUND", "contactUuid", "no contact with uuid 'nope'"),
    ),
    (
        {"wallet_uuid": None},
        ("INVALID", "walletUuid", "give walletUuid or contactUuid"),
    ),
    (
        {"amount": "10.01"},
        (
            "INSUFFICIENT_CREDIT",
            "amount",
            "insufficient GLOBAL credit: available balance 10.00, amount 10.01",
        ),
    ),
]


@pytest.mark.parametrize(("change", "expected"), BAD_CREATES)
def test_a_bad_create_is_refused_with_its_reason_and_writes_nothing(
    db: Database,
    tenant: Tenant,
    wallet: str,
    clock: FrozenClock,
    change: dict[str, Any],
    expected: tuple[str, str, str],
) -> None:
    fund(db, tenant, wallet, "10.00")
    values: dict[str, Any] = {"credit_type": "GLOBAL", "amount": "5", "wallet_uuid": wallet}
    before = holds_state(db, tenant.uuid)

    with pytest.raises(DomainError) as refused:
        redemptions.create_redemptions(db, tenant.principal, NewRedemption(**{**values, **change}))

    assert (refused.value.code, refused.value.field, refused.value.message) == expected
    assert holds_state(db, tenant.uuid) == before


def test_a_wallet_and_a_contact_that_do_not_belong_together_are_refused(
    db: Database, tenant: Tenant, wallet: str
) -> None:
    fund(db, tenant, wallet, "10.00")
    stranger = make_contact(db, tenant)
    before = holds_state(db, tenant.uuid)

    with pytest.raises(DomainError) as refused:
        redemptions.create_redemptions(
            db,
            tenant.principal,
            NewRedemption(
                credit_type="GLOBAL",
                amount="5",
                wallet_uuid=wallet,
                customer_uuid=stranger.customer.uuid,
            ),
        )

    assert _refused(refused) == (
        "INVALID",
        "contactUuid",
        "walletUuid does not belong to contactUuid",
    )
    assert holds_state(db, tenant.uuid) == before


def test_another_accounts_codes_and_wallets_are_not_found(
    db: Database, tenant: Tenant, other_tenant: Tenant, wallet: str
) -> None:
    fund(db, tenant, wallet, "10.00")
    code = make_code(db, tenant, wallet, "4.00")
    before = holds_state(db, tenant.uuid)
    shown = codes.display(code.code)

    with pytest.raises(DomainError) as redeemed:
        redemptions.redeem_code(db, other_tenant.principal, code.code)
    with pytest.raises(DomainError) as cancelled:
        redemptions.cancel_code(db, other_tenant.principal, shown)
    with pytest.raises(DomainError) as held:
        make_code(db, other_tenant, wallet, "1.00")
    with db.read() as connection:
        found = redemptions.find_code(connection, other_tenant.principal, code.code)
        counted = redemptions.count_codes(connection, other_tenant.principal)

    assert _refused(redeemed) == ("NOT_FOUND", "code", f"no redemption code '{shown}'")
    assert _refused(cancelled) == ("NOT_FOUND", "code", f"no redemption code '{shown}'")
    assert _refused(held) == ("NOT_FOUND", "walletUuid", f"no wallet with uuid '{wallet}'")
    assert (found, counted) == (None, 0)
    assert holds_state(db, tenant.uuid) == before


def test_an_unknown_or_empty_code_is_not_found(db: Database, tenant: Tenant) -> None:
    with pytest.raises(DomainError) as unknown:
        redemptions.redeem_code(db, tenant.principal, "acde-fghj-kmnp-qrtu")
    with pytest.raises(DomainError) as empty:
        redemptions.cancel_code(db, tenant.principal, " - ")

    assert _refused(unknown) == ("NOT_FOUND", "code", "no redemption code 'ACDE-FGHJ-KMNP-QRTU'")
    assert _refused(empty) == ("NOT_FOUND", "code", "no redemption code ''")


def test_a_read_token_can_neither_make_nor_use_codes(
    db: Database, tenant: Tenant, wallet: str
) -> None:
    fund(db, tenant, wallet, "10.00")
    code = make_code(db, tenant, wallet, "4.00")
    reader = tenant.with_scope(db, "read")
    before = holds_state(db, tenant.uuid)

    refusals = []
    for attempt in (
        lambda: make_code(db, reader, wallet, "1.00"),
        lambda: redemptions.redeem_code(db, reader.principal, code.code),
        lambda: redemptions.cancel_code(db, reader.principal, code.code),
    ):
        with pytest.raises(DomainError) as refused:
            attempt()
        refusals.append(refused.value.code)

    assert refusals == ["FORBIDDEN"] * 3
    assert holds_state(db, tenant.uuid) == before


def test_counts_and_pages_of_codes_by_status(db: Database, tenant: Tenant, wallet: str) -> None:
    fund(db, tenant, wallet, "10.00")
    made = [make_code(db, tenant, wallet, "1.00") for _ in range(4)]
    redemptions.redeem_code(db, tenant.principal, made[0].code)
    redemptions.cancel_code(db, tenant.principal, made[1].code)

    with db.read() as connection:
        counts = {
            status: redemptions.count_codes(connection, tenant.principal, status)
            for status in (None, "ACTIVE", "REDEEMED", "CANCELLED", "EXPIRED")
        }
        active = redemptions.list_codes(
            connection, tenant.principal, status="ACTIVE", limit=None, offset=None
        )
        by_wallet = redemptions.codes_for_wallets(
            connection, tenant.principal, [wallet], limit=2, offset=1
        )

    assert counts == {None: 4, "ACTIVE": 2, "REDEEMED": 1, "CANCELLED": 1, "EXPIRED": 0}
    assert {code.uuid for code in active} == {made[2].uuid, made[3].uuid}
    assert len(by_wallet[wallet]) == 2
