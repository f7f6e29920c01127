"""Reversals: a SPEND or REMOVE is given back, in parts or whole, never beyond its amount, into
the lots it drew on; an unspent ADD is taken back, a spent one is refused; reversals, expiries
and conversions are not reversible; bad ids and amounts are refused and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from patron.core.db import Database
from patron.core.errors import DomainError
from patron.redemptions import service as redemptions
from patron.wallets import service as wallets
from patron.wallets.models import Action, ConversionCommand, CreditEntry, CreditType, Reason
from tests.support.clock import FrozenClock
from tests.support.holds import (
    assert_store_consistent,
    fund_until,
    holds_state,
    lot_remaining,
    make_code,
    post,
    wallet_row,
)
from tests.support.ledger import entry_rows
from tests.support.tenants import Tenant, fund, make_contact


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


def _reverse(
    db: Database, tenant: Tenant, entry_uuid: str, amount: object | None = None, **extra: Any
) -> CreditEntry:
    return wallets.reverse_entry(db, tenant.principal, entry_uuid, amount=amount, **extra)


def _refusal(
    db: Database, tenant: Tenant, entry_uuid: str, amount: object | None = None
) -> tuple[str, str | None, str]:
    with pytest.raises(DomainError) as refused:
        _reverse(db, tenant, entry_uuid, amount)
    return refused.value.code, refused.value.field, refused.value.message


def _shape(entry: CreditEntry) -> tuple[Any, ...]:
    return (entry.action, entry.credit_type, entry.amount, entry.balance_after, entry.reason)


def _available(db: Database, tenant: Tenant, wallet_uuid: str) -> int:
    with db.read() as connection:
        found = wallets.get_wallet(connection, tenant.principal, wallet_uuid)
    return found.available(CreditType.GLOBAL)


# --- giving back a debit ----------------------------------------------------------------------


def test_a_spend_is_given_back_in_parts_then_in_full_and_then_no_more(
    db: Database, tenant: Tenant, wallet: str
) -> None:
    fund(db, tenant, wallet, "50.00")
    spend = post(db, tenant, wallet, "SPEND", "20.00")

    part = _reverse(db, tenant, spend.uuid, "5.00", note="damaged item")
    rest = _reverse(db, tenant, spend.uuid)
    before = holds_state(db, tenant.uuid)
    refused = _refusal(db, tenant, spend.uuid)

    assert _shape(part) == (Action.ADD, CreditType.GLOBAL, 500, 3500, Reason.MANUAL)
    assert _shape(rest) == (Action.ADD, CreditType.GLOBAL, 1500, 5000, Reason.MANUAL)
    assert (part.reverses_uuid, rest.reverses_uuid) == (spend.uuid, spend.uuid)
    assert (part.note, rest.note) == ("damaged item", None)
    assert refused == ("ALREADY_REVERSED", "uuid", "this entry has already been reversed in full")
    assert holds_state(db, tenant.uuid) == before


def test_a_remove_of_points_is_given_back(db: Database, tenant: Tenant, wallet: str) -> None:
    fund(db, tenant, wallet, 300, "LOCAL")
    removed = post(db, tenant, wallet, "REMOVE", 120, "LOCAL")

    given_back = _reverse(db, tenant, removed.uuid, 120)

    assert _shape(given_back) == (Action.ADD, CreditType.LOCAL, 120, 300, Reason.MANUAL)
    assert wallet_row(db, tenant, wallet).local_balance == 300


def test_reversals_never_give_back_more_than_the_original(
    db: Database, tenant: Tenant, wallet: str
) -> None:
    fund(db, tenant, wallet, "50.00")
    spend = post(db, tenant, wallet, "SPEND", "20.00")
    _reverse(db, tenant, spend.uuid, "15.00")
    before = holds_state(db, tenant.uuid)

    too_much = _refusal(db, tenant, spend.uuid, "5.01")
    assert holds_state(db, tenant.uuid) == before
    last = _reverse(db, tenant, spend.uuid, "5")
    after_last = _refusal(db, tenant, spend.uuid, "0.01")

    assert too_much == ("INVALID", "amount", "at most 5.00 of this entry can still be reversed")
    assert last.amount == 500
    assert after_last == (
        "ALREADY_REVERSED",
        "uuid",
        "this entry has already been reversed in full",
    )
    given_back = sum(
        row.amount for row in entry_rows(db, tenant.uuid, wallet) if row.reverses_uuid == spend.uuid
    )
    assert given_back == 2000
    assert wallet_row(db, tenant, wallet).global_balance == 5000


def test_a_reversal_refills_the_lots_the_spend_drew_on_latest_expiring_first(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    fund(db, tenant, wallet, "5.00")
    late = fund_until(db, tenant, wallet, "10.00", clock.later(days=10))
    soon = fund_until(db, tenant, wallet, "10.00", clock.later(days=2))
    spend = post(db, tenant, wallet, "SPEND", "18.00")
    assert lot_remaining(db, tenant, wallet) == {late.uuid: 200, soon.uuid: 0}

    _reverse(db, tenant, spend.uuid, "9.00")
    after_part = lot_remaining(db, tenant, wallet)
    _reverse(db, tenant, spend.uuid)

    assert after_part == {late.uuid: 1000, soon.uuid: 100}
    assert lot_remaining(db, tenant, wallet) == {late.uuid: 1000, soon.uuid: 1000}
    assert wallet_row(db, tenant, wallet).global_balance == 2500
    assert wallet_row(db, tenant, wallet).open_lots == 2


def test_a_reversal_of_a_spend_from_lasting_credit_touches_no_lot(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    fund(db, tenant, wallet, "10.00")
    spend = post(db, tenant, wallet, "SPEND", "4.00")
    lot = fund_until(db, tenant, wallet, "3.00", clock.later(days=2))

    _reverse(db, tenant, spend.uuid)

    assert lot_remaining(db, tenant, wallet) == {lot.uuid: 300}
    assert wallet_row(db, tenant, wallet).global_balance == 1300


def test_credit_given_back_into_an_expired_lot_is_expired(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    lot = fund_until(db, tenant, wallet, "10.00", clock.later(hours=1))
    spend = post(db, tenant, wallet, "SPEND", "10.00")
    clock.advance(hours=2)

    given_back = _reverse(db, tenant, spend.uuid)
    fund(db, tenant, wallet, "1.00")
    available = _available(db, tenant, wallet)
    post(db, tenant, wallet, "SPEND", "1.00")

    assert given_back.balance_after == 1000
    assert available == 100
    assert [
        (row.action, row.amount, row.balance_after, row.reason)
        for row in entry_rows(db, tenant.uuid, wallet)
    ][-3:] == [
        ("ADD", 100, 1100, "MANUAL"),
        ("SPEND", 100, 1000, "MANUAL"),
        ("REMOVE", 1000, 0, "EXPIRY"),
    ]
    assert lot_remaining(db, tenant, wallet) == {lot.uuid: 0}


def test_reversing_a_redeemed_codes_spend_refills_the_lots_its_hold_drew_on(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    lot = fund_until(db, tenant, wallet, "10.00", clock.later(days=10))
    code = make_code(db, tenant, wallet, "6.00")
    spend = redemptions.redeem_code(db, tenant.principal, code.code).entry

    given_back = _reverse(db, tenant, spend.uuid)

    assert _shape(given_back) == (
        Action.ADD,
        CreditType.GLOBAL,
        600,
        1000,
        Reason.REDEMPTION_REFUND,
    )
    assert (given_back.reverses_uuid, given_back.redemption_uuid) == (spend.uuid, code.uuid)
    assert lot_remaining(db, tenant, wallet) == {lot.uuid: 1000}
    assert wallet_row(db, tenant, wallet).open_lots == 1


# --- taking back an ADD -----------------------------------------------------------------------


def test_an_unspent_add_is_taken_back(db: Database, tenant: Tenant, wallet: str) -> None:
    added = fund(db, tenant, wallet, "10.00")

    taken = _reverse(db, tenant, added.uuid, note="added by mistake")

    assert _shape(taken) == (Action.REMOVE, CreditType.GLOBAL, 1000, 0, Reason.MANUAL)
    assert (taken.reverses_uuid, taken.note) == (added.uuid, "added by mistake")
    assert _refusal(db, tenant, added.uuid) == (
        "ALREADY_REVERSED",
        "uuid",
        "this entry has already been reversed in full",
    )


def test_an_expiring_add_is_taken_back_from_its_own_lot(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    fund(db, tenant, wallet, "5.00")
    other = fund_until(db, tenant, wallet, "8.00", clock.later(days=1))
    added = fund_until(db, tenant, wallet, "10.00", clock.later(days=5))

    part = _reverse(db, tenant, added.uuid, "4.00")
    after_part = lot_remaining(db, tenant, wallet)
    _reverse(db, tenant, added.uuid)

    assert _shape(part) == (Action.REMOVE, CreditType.GLOBAL, 400, 1900, Reason.MANUAL)
    assert after_part == {other.uuid: 800, added.uuid: 600}
    assert lot_remaining(db, tenant, wallet) == {other.uuid: 800, added.uuid: 0}
    assert wallet_row(db, tenant, wallet).global_balance == 1300
    assert wallet_row(db, tenant, wallet).open_lots == 1


def test_taking_back_a_lasting_add_leaves_the_expiring_credit_alone(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    added = fund(db, tenant, wallet, "10.00")
    lot = fund_until(db, tenant, wallet, "5.00", clock.later(days=2))

    _reverse(db, tenant, added.uuid)

    assert lot_remaining(db, tenant, wallet) == {lot.uuid: 500}
    assert wallet_row(db, tenant, wallet).global_balance == 500
    assert wallet_row(db, tenant, wallet).open_lots == 1


def test_a_lasting_add_whose_credit_is_spent_is_refused(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    added = fund(db, tenant, wallet, "10.00")
    fund_until(db, tenant, wallet, "5.00", clock.later(days=2))
    post(db, tenant, wallet, "SPEND", "9.00")  # 5.00 of the lot first, then 4.00 lasting
    before = holds_state(db, tenant.uuid)

    refused = _refusal(db, tenant, added.uuid)
    assert holds_state(db, tenant.uuid) == before
    partly = _reverse(db, tenant, added.uuid, "6.00")

    assert refused == (
        "CREDIT_ALREADY_SPENT",
        "amount",
        "the credit of this entry is already spent: 6.00 of it left",
    )
    assert partly.balance_after == 0


def test_an_expiring_add_whose_credit_is_spent_held_or_expired_is_refused(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    spent = fund_until(db, tenant, wallet, "10.00", clock.later(days=1))
    post(db, tenant, wallet, "SPEND", "4.00")
    held = fund_until(db, tenant, wallet, "10.00", clock.later(days=2))
    make_code(db, tenant, wallet, "13.00")  # the last 6.00 of `spent`, then 7.00 of `held`
    expired = fund_until(db, tenant, wallet, "2.00", clock.later(hours=1))
    clock.advance(hours=1)
    before = holds_state(db, tenant.uuid)

    refusals = [
        _refusal(db, tenant, spent.uuid),
        _refusal(db, tenant, held.uuid, "3.01"),
        _refusal(db, tenant, expired.uuid, "0.01"),
    ]

    assert refusals == [
        (
            "CREDIT_ALREADY_SPENT",
            "amount",
            "the credit of this entry is already spent or expired: 0.00 of it left",
        ),
        (
            "CREDIT_ALREADY_SPENT",
            "amount",
            "the credit of this entry is already spent or expired: 3.00 of it left",
        ),
        (
            "CREDIT_ALREADY_SPENT",
            "amount",
            "the credit of this entry is already spent or expired: 0.00 of it left",
        ),
    ]
    assert holds_state(db, tenant.uuid) == before
    assert _reverse(db, tenant, held.uuid, "3.00").amount == 300


# --- what cannot be reversed ------------------------------------------------------------------


def test_reversals_expiries_conversions_and_refunds_are_not_reversible(
    db: Database, tenant: Tenant, wallet: str, clock: FrozenClock
) -> None:
    fund(db, tenant, wallet, "50.00")
    reversal = _reverse(db, tenant, post(db, tenant, wallet, "SPEND", "1.00").uuid)
    conversion = wallets.convert_credit(
        db,
        tenant.principal,
        ConversionCommand(
            wallet_uuid=wallet, amount="2", from_type="GLOBAL", to_type="LOCAL", conversion_rate=10
        ),
    )
    code = make_code(db, tenant, wallet, "3.00")
    refund = _reverse(
        db, tenant, redemptions.redeem_code(db, tenant.principal, code.code).entry.uuid
    )
    fund_until(db, tenant, wallet, "1.00", clock.later(hours=1))
    clock.advance(hours=1)
    post(db, tenant, wallet, "SPEND", "0.01")
    expiry = next(row for row in entry_rows(db, tenant.uuid, wallet) if row.reason == "EXPIRY")
    before = holds_state(db, tenant.uuid)

    refusals = [
        _refusal(db, tenant, uuid)
        for uuid in (
            reversal.uuid,
            conversion.removed.uuid,
            conversion.added.uuid,
            refund.uuid,
            expiry.uuid,
        )
    ]

    assert refusals == [
        ("INVALID", "uuid", "a MANUAL entry cannot be reversed (it is itself a reversal)"),
        ("INVALID", "uuid", "a CONVERSION entry cannot be reversed"),
        ("INVALID", "uuid", "a CONVERSION entry cannot be reversed"),
        (
            "INVALID",
            "uuid",
            "a REDEMPTION_REFUND entry cannot be reversed (it is itself a reversal)",
        ),
        ("INVALID", "uuid", "a EXPIRY entry cannot be reversed"),
    ]
    assert holds_state(db, tenant.uuid) == before


@pytest.mark.parametrize(
    "entry_uuid", ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "", "x" * 500]
)
def test_an_unknown_entry_is_not_found(
    db: Database, tenant: Tenant, wallet: str, entry_uuid: str
) -> None:
    fund(db, tenant, wallet, "5.00")
    before = holds_state(db, tenant.uuid)

    refused = _refusal(db, tenant, entry_uuid)

    assert refused == ("NOT_FOUND", "uuid", f"no credit entry with uuid '{entry_uuid}'")
    assert holds_state(db, tenant.uuid) == before


def test_another_accounts_entry_is_not_found_and_stays_as_it_is(
    db: Database, tenant: Tenant, other_tenant: Tenant, wallet: str
) -> None:
    fund(db, tenant, wallet, "5.00")
    spend = post(db, tenant, wallet, "SPEND", "2.00")
    ours, theirs = holds_state(db, tenant.uuid), holds_state(db, other_tenant.uuid)

    refused = _refusal(db, other_tenant, spend.uuid)

    assert refused == ("NOT_FOUND", "uuid", f"no credit entry with uuid '{spend.uuid}'")
    assert holds_state(db, tenant.uuid) == ours
    assert holds_state(db, other_tenant.uuid) == theirs


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (0, ("INVALID", "amount", "amount must be greater than 0, got 0")),
        ("-1", ("INVALID", "amount", "amount must be greater than 0, got -1")),
        ("0.001", ("INVALID", "amount", "amount 0.001 has more than 2 decimal place(s)")),
        ("NaN", ("INVALID", "amount", "amount must be a finite number, got 'NaN'")),
        ("abc", ("INVALID", "amount", "amount must be a number, got 'abc'")),
        (True, ("INVALID", "amount", "amount must be a number, not a boolean")),
        (
            "1e30",
            ("INVALID", "amount", "amount 1E+30 is above the maximum of 10000000000000.00"),
        ),
        (
            Decimal("20.01"),
            ("INVALID", "amount", "at most 20.00 of this entry can still be reversed"),
        ),
    ],
)
def test_an_amount_out_of_range_is_refused_and_writes_nothing(
    db: Database, tenant: Tenant, wallet: str, amount: object, expected: tuple[str, str, str]
) -> None:
    fund(db, tenant, wallet, "50.00")
    spend = post(db, tenant, wallet, "SPEND", "20.00")
    before = holds_state(db, tenant.uuid)

    refused = _refusal(db, tenant, spend.uuid, amount)

    assert refused == expected
    assert holds_state(db, tenant.uuid) == before


def test_a_read_token_cannot_reverse(db: Database, tenant: Tenant, wallet: str) -> None:
    fund(db, tenant, wallet, "5.00")
    spend = post(db, tenant, wallet, "SPEND", "2.00")
    reader = tenant.with_scope(db, "read")
    before = holds_state(db, tenant.uuid)

    refused = _refusal(db, reader, spend.uuid)

    assert refused[0] == "FORBIDDEN"
    assert holds_state(db, tenant.uuid) == before


def test_a_retried_reversal_is_applied_once(db: Database, tenant: Tenant, wallet: str) -> None:
    fund(db, tenant, wallet, "50.00")
    spend = post(db, tenant, wallet, "SPEND", "20.00")

    first = _reverse(db, tenant, spend.uuid, "5.00", idempotency_key="rma-17")
    after_first = holds_state(db, tenant.uuid)
    again = _reverse(db, tenant, spend.uuid, "5.00", idempotency_key="rma-17")
    with pytest.raises(DomainError) as other_amount:
        _reverse(db, tenant, spend.uuid, "6.00", idempotency_key="rma-17")

    assert again.uuid == first.uuid
    assert first.idempotency_key == "rma-17"
    assert other_amount.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert holds_state(db, tenant.uuid) == after_first
    assert wallet_row(db, tenant, wallet).global_balance == 3500


def test_a_retry_may_write_the_same_amount_another_way(
    db: Database, tenant: Tenant, wallet: str
) -> None:
    fund(db, tenant, wallet, "50.00")
    spend = post(db, tenant, wallet, "SPEND", "20.00")

    first = _reverse(db, tenant, spend.uuid, Decimal(5), idempotency_key="rma-18")
    after_first = holds_state(db, tenant.uuid)
    as_text = _reverse(db, tenant, spend.uuid, "5.00", idempotency_key="rma-18")
    as_float = _reverse(db, tenant, spend.uuid, 5.0, idempotency_key="rma-18")

    assert as_text.uuid == as_float.uuid == first.uuid
    assert holds_state(db, tenant.uuid) == after_first
