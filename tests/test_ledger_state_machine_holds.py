"""Random sequences of holds, expiring lots, clock moves, sweeps and reversals against a
plain-Python model of the ledger.

Hypothesis drives ADD (lasting or expiring), SPEND / REMOVE, conversions, redemption codes
(create, redeem, cancel), the clock, the expiry sweep and reversals through the service
layer. After every step the store must agree with the model: balances, held amounts, every
entry in order, what is left in each lot, each code's status and what can be spent; and
``verify_ledger`` must find nothing wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.jobs.expiry import sweep
from patron.redemptions import codes
from patron.redemptions import service as redemptions
from patron.redemptions.models import NewRedemption
from patron.redemptions.service import AlreadyRedeemed, CodeCancelled, CodeExpired
from patron.redemptions.tables import redemptions as redemption_rows
from patron.wallets import service
from patron.wallets.ledger import InsufficientCredit
from patron.wallets.lot_tables import credit_lots
from patron.wallets.models import ConversionCommand, CreditType, EntryCommand
from patron.wallets.postings import CreditAlreadySpent
from patron.wallets.service import AlreadyReversed
from patron.wallets.tables import credit_entries
from patron.wallets.tables import wallets as wallet_rows
from tests.support.clock import START, FrozenClock
from tests.support.databases import own_store
from tests.support.holds import assert_store_consistent
from tests.support.tenants import Tenant, make_contact, new_tenant

TYPES = ("GLOBAL", "LOCAL")
PLACES = {"GLOBAL": 2, "LOCAL": 0}  # a USD account with whole points
WALLETS = 2
REVERSAL_REASON = {"MANUAL": "MANUAL", "REDEMPTION": "REDEMPTION_REFUND"}
# Most steps on one wallet and one credit type, so that holds, lots and reversals meet.
INDEX = st.sampled_from([0, 0, 0, 1])
TYPE = st.sampled_from(["GLOBAL", "GLOBAL", "GLOBAL", "LOCAL"])


@dataclass
class Lot:
    entry_uuid: str
    credit_type: str
    expires_at: datetime
    remaining: int


@dataclass
class Draw:
    lot: Lot
    amount: int
    restored: int = 0


@dataclass
class Entry:
    wallet: int
    action: str
    credit_type: str
    amount: int
    balance_after: int
    reason: str
    uuid: str | None = None
    reverses: str | None = None
    redemption_uuid: str | None = None
    lot: Lot | None = None
    reversed: int = 0


@dataclass
class Code:
    uuid: str
    code: str
    wallet: int
    credit_type: str
    amount: int
    expires_at: datetime | None
    status: str = "ACTIVE"


@dataclass
class Wallet:
    uuid: str
    balance: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TYPES, 0))
    held: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TYPES, 0))
    lots: list[Lot] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)


class HoldsMachine(RuleBasedStateMachine):
    # Set by the test on a subclass: the machine's own store and the clock it moves.
    db: Database
    clock: FrozenClock

    def __init__(self) -> None:
        super().__init__()
        self.tenant: Tenant
        self.wallets: list[Wallet] = []
        self.codes: list[Code] = []
        self.draws: dict[str, list[Draw]] = {}
        self.made = 0  # keeps expiry times distinct, so that soonest-first has one answer

    @initialize(
        lasting=st.integers(1, 3000),
        expiring=st.lists(
            st.tuples(TYPE, st.integers(1, 3000), st.integers(1, 48)), min_size=1, max_size=3
        ),
    )
    def open_account(self, lasting: int, expiring: list[tuple[str, int, int]]) -> None:
        """Wallets that start with lasting credit and a few lots in the first one."""
        self.clock.now = START
        self.tenant = new_tenant(self.db)
        for _ in range(WALLETS):
            self.wallets.append(Wallet(make_contact(self.db, self.tenant).wallet_uuid))
        for index in range(WALLETS):
            self.add(index, "GLOBAL", lasting, None)
        for credit_type, minor, hours in expiring:
            self.add(0, credit_type, minor, hours)

    # --- the model ----------------------------------------------------------------------------

    def _due(self, wallet: Wallet, credit_type: str) -> int:
        return sum(
            lot.remaining
            for lot in wallet.lots
            if lot.credit_type == credit_type and lot.expires_at <= self.clock.now
        )

    def _available(self, wallet: Wallet, credit_type: str) -> int:
        return (
            wallet.balance[credit_type] - wallet.held[credit_type] - self._due(wallet, credit_type)
        )

    def _write(self, index: int, action: str, credit_type: str, amount: int, reason: str) -> Entry:
        wallet = self.wallets[index]
        wallet.balance[credit_type] += amount if action == "ADD" else -amount
        entry = Entry(index, action, credit_type, amount, wallet.balance[credit_type], reason)
        wallet.entries.append(entry)
        return entry

    def _expire(self, index: int, due: list[Lot]) -> None:
        for lot in sorted(due, key=lambda lot: lot.expires_at):
            if lot.remaining > 0:
                self._write(index, "REMOVE", lot.credit_type, lot.remaining, "EXPIRY")
                lot.remaining = 0

    def _draw(self, index: int, credit_type: str, amount: int, source: str) -> None:
        """Take ``amount`` from live lots soonest first, then expire the due ones."""
        wallet = self.wallets[index]
        mine = sorted(
            (lot for lot in wallet.lots if lot.credit_type == credit_type and lot.remaining),
            key=lambda lot: lot.expires_at,
        )
        left = amount
        for lot in mine:
            if left == 0:
                break
            if lot.expires_at <= self.clock.now:
                continue
            take = min(left, lot.remaining)
            lot.remaining -= take
            self.draws.setdefault(source, []).append(Draw(lot, take))
            left -= take
        self._expire(index, [lot for lot in mine if lot.expires_at <= self.clock.now])

    def _restore(self, source: str, amount: int) -> None:
        left = amount
        for draw in sorted(
            self.draws.get(source, []), key=lambda d: d.lot.expires_at, reverse=True
        ):
            give = min(left, draw.amount - draw.restored)
            draw.lot.remaining += give
            draw.restored += give
            left -= give

    def _share(self, wallet: Wallet, credit_type: str, percent: int) -> int:
        """``percent`` of what is available (at least 1); above 100, more than is there."""
        available = self._available(wallet, credit_type)
        if percent > 100:
            return available + percent - 100
        return max(1, available * percent // 100)

    def _amount(self, minor: int, credit_type: str) -> Decimal:
        return Decimal(minor).scaleb(-PLACES[credit_type])

    def _expiry(self, hours: int) -> datetime:
        self.made += 1
        return self.clock.now + timedelta(hours=hours, microseconds=self.made)

    # --- rules --------------------------------------------------------------------------------

    @rule(
        index=INDEX,
        credit_type=TYPE,
        minor=st.integers(1, 3000),
        hours=st.none() | st.integers(1, 48) | st.integers(1, 48),
    )
    def add(self, index: int, credit_type: str, minor: int, hours: int | None) -> None:
        expires_at = self._expiry(hours) if hours is not None else None
        entry = service.post_entry(
            self.db,
            self.tenant.principal,
            EntryCommand(
                wallet_uuid=self.wallets[index].uuid,
                action="ADD",
                credit_type=credit_type,
                amount=self._amount(minor, credit_type),
                expires_at=expires_at,
            ),
        )
        added = self._write(index, "ADD", credit_type, minor, "MANUAL")
        added.uuid = entry.uuid
        if expires_at is not None:
            added.lot = Lot(entry.uuid, credit_type, expires_at, minor)
            self.wallets[index].lots.append(added.lot)

    @rule(
        index=INDEX,
        action=st.sampled_from(["SPEND", "REMOVE", "CONVERT"]),
        credit_type=TYPE,
        percent=st.integers(1, 110),
    )
    def debit(self, index: int, action: str, credit_type: str, percent: int) -> None:
        minor = self._share(self.wallets[index], credit_type, percent)
        if action == "CONVERT":
            self._convert(index, credit_type, minor)
            return
        command = EntryCommand(
            wallet_uuid=self.wallets[index].uuid,
            action=action,
            credit_type=credit_type,
            amount=self._amount(minor, credit_type),
        )
        if minor > self._available(self.wallets[index], credit_type):
            with pytest.raises(InsufficientCredit):
                service.post_entry(self.db, self.tenant.principal, command)
            return
        entry = service.post_entry(self.db, self.tenant.principal, command)
        debited = self._write(index, action, credit_type, minor, "MANUAL")
        debited.uuid = entry.uuid
        self._draw(index, credit_type, minor, entry.uuid)

    def _convert(self, index: int, source: str, minor: int) -> None:
        """At a rate that makes ``minor`` of one type ``minor`` of the other (1 point = 1 cent)."""
        target = "LOCAL" if source == "GLOBAL" else "GLOBAL"
        command = ConversionCommand(
            wallet_uuid=self.wallets[index].uuid,
            amount=self._amount(minor, source),
            from_type=source,
            to_type=target,
            conversion_rate=Decimal(100) if source == "GLOBAL" else Decimal("0.01"),
        )
        if minor > self._available(self.wallets[index], source):
            with pytest.raises(InsufficientCredit):
                service.convert_credit(self.db, self.tenant.principal, command)
            return
        conversion = service.convert_credit(self.db, self.tenant.principal, command)
        removed = self._write(index, "REMOVE", source, minor, "CONVERSION")
        removed.uuid = conversion.removed.uuid
        self._draw(index, source, minor, conversion.removed.uuid)
        self._write(index, "ADD", target, minor, "CONVERSION")

    @rule(
        index=INDEX,
        credit_type=TYPE,
        percent=st.integers(1, 110),
        hours=st.none() | st.integers(1, 48),
    )
    def create_code(self, index: int, credit_type: str, percent: int, hours: int | None) -> None:
        wallet = self.wallets[index]
        minor = self._share(wallet, credit_type, percent)
        expires_at = self._expiry(hours) if hours is not None else None
        command = NewRedemption(
            credit_type=credit_type,
            amount=self._amount(minor, credit_type),
            wallet_uuid=wallet.uuid,
            expires_at=expires_at,
        )
        if minor > self._available(wallet, credit_type):
            with pytest.raises(InsufficientCredit):
                redemptions.create_redemptions(self.db, self.tenant.principal, command)
            return
        (made,) = redemptions.create_redemptions(self.db, self.tenant.principal, command)
        wallet.held[credit_type] += minor
        self._draw(index, credit_type, minor, made.uuid)
        self.codes.append(Code(made.uuid, made.code, index, credit_type, minor, expires_at))

    def _code_refusal(self, code: Code) -> type[Exception] | None:
        if code.status == "REDEEMED":
            return AlreadyRedeemed
        if code.status == "CANCELLED":
            return CodeCancelled
        if code.status == "EXPIRED" or (
            code.expires_at is not None and code.expires_at <= self.clock.now
        ):
            return CodeExpired
        return None

    def _pick_code(self, data: st.DataObject, active: bool) -> Code:
        """Any code; when ``active``, one still ACTIVE if there is one."""
        pool = [code for code in self.codes if code.status == "ACTIVE"] if active else []
        return data.draw(st.sampled_from(pool or self.codes))

    @precondition(lambda self: bool(self.codes))
    @rule(data=st.data(), shown=st.booleans(), active=st.booleans())
    def redeem(self, data: st.DataObject, shown: bool, active: bool) -> None:
        code = self._pick_code(data, active)
        typed = codes.display(code.code).lower() if shown else code.code
        refusal = self._code_refusal(code)
        if refusal is not None:
            with pytest.raises(refusal):
                redemptions.redeem_code(self.db, self.tenant.principal, typed)
            return
        redeemed = redemptions.redeem_code(self.db, self.tenant.principal, typed)
        self.wallets[code.wallet].held[code.credit_type] -= code.amount
        spend = self._write(code.wallet, "SPEND", code.credit_type, code.amount, "REDEMPTION")
        spend.uuid, spend.redemption_uuid = redeemed.entry.uuid, code.uuid
        code.status = "REDEEMED"

    @precondition(lambda self: bool(self.codes))
    @rule(data=st.data(), active=st.booleans())
    def cancel(self, data: st.DataObject, active: bool) -> None:
        code = self._pick_code(data, active)
        refusal = self._code_refusal(code)
        if refusal is not None:
            with pytest.raises(refusal):
                redemptions.cancel_code(self.db, self.tenant.principal, code.code)
            return
        redemptions.cancel_code(self.db, self.tenant.principal, code.code)
        self.wallets[code.wallet].held[code.credit_type] -= code.amount
        self._restore(code.uuid, code.amount)
        code.status = "CANCELLED"

    @rule(hours=st.integers(0, 30), then_sweep=st.booleans())
    def time_passes(self, hours: int, then_sweep: bool) -> None:
        """The clock moves on; then, or not, the expiry sweep runs."""
        self.clock.advance(hours=hours)
        if then_sweep:
            self._sweep()

    def _sweep(self) -> None:
        sweep(self.db, now=self.clock.now)
        for code in self.codes:
            if (
                code.status == "ACTIVE"
                and code.expires_at is not None
                and code.expires_at <= self.clock.now
            ):
                code.status = "EXPIRED"
                self.wallets[code.wallet].held[code.credit_type] -= code.amount
                self._restore(code.uuid, code.amount)
        for index, wallet in enumerate(self.wallets):
            self._expire(index, [lot for lot in wallet.lots if lot.expires_at <= self.clock.now])

    @precondition(lambda self: any(wallet.entries for wallet in self.wallets))
    @rule(
        data=st.data(),
        percent=st.none() | st.integers(1, 110),
        pick=st.sampled_from(["debit", "debit", "add", "any"]),
    )
    def reverse(self, data: st.DataObject, percent: int | None, pick: str) -> None:
        """One of the last few reversible debits or ADDs, or any entry at all. All that is
        left of it, or ``percent`` of that (above 100: more than is left)."""
        every = [entry for wallet in self.wallets for entry in wallet.entries]
        reversible = [
            entry
            for entry in every
            if entry.reason in REVERSAL_REASON
            and not entry.reverses
            and (entry.action == "ADD") == (pick == "add")
        ]
        pool = reversible[-4:] if pick != "any" and reversible else every
        entry = data.draw(st.sampled_from(pool))
        assert entry.uuid is not None
        left = entry.amount - entry.reversed
        if percent is None:
            minor = None
        elif percent > 100:
            minor = left + percent - 100
        else:
            minor = max(1, left * percent // 100)
        amount = None if minor is None else self._amount(minor, entry.credit_type)
        expected = self._reversal_refusal(entry, minor)
        if expected is not None:
            with pytest.raises(expected):
                service.reverse_entry(self.db, self.tenant.principal, entry.uuid, amount=amount)
            return
        wanted = entry.amount - entry.reversed if minor is None else minor
        written = service.reverse_entry(self.db, self.tenant.principal, entry.uuid, amount=amount)
        entry.reversed += wanted
        action = "REMOVE" if entry.action == "ADD" else "ADD"
        reversal = self._write(
            entry.wallet, action, entry.credit_type, wanted, REVERSAL_REASON[entry.reason]
        )
        reversal.uuid, reversal.reverses = written.uuid, entry.uuid
        reversal.redemption_uuid = entry.redemption_uuid
        if entry.action == "ADD" and entry.lot is not None:
            entry.lot.remaining -= wanted
        elif entry.action != "ADD":
            self._restore(entry.redemption_uuid or entry.uuid, wanted)

    def _reversal_refusal(self, entry: Entry, minor: int | None) -> type[Exception] | None:
        if entry.reason not in REVERSAL_REASON or entry.reverses is not None:
            return InvalidInput
        left = entry.amount - entry.reversed
        if left <= 0:
            return AlreadyReversed
        wanted = left if minor is None else minor
        if wanted > left:
            return InvalidInput
        if entry.action != "ADD":
            return None
        wallet = self.wallets[entry.wallet]
        if entry.lot is not None:
            spent = entry.lot.remaining < wanted or entry.lot.expires_at <= self.clock.now
            return CreditAlreadySpent if spent else None
        in_lots = sum(lot.remaining for lot in wallet.lots if lot.credit_type == entry.credit_type)
        lasting = wallet.balance[entry.credit_type] - wallet.held[entry.credit_type] - in_lots
        return CreditAlreadySpent if lasting < wanted else None

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def store_agrees_with_the_model(self) -> None:
        if not self.wallets:
            return
        account_id = self.tenant.uuid
        with self.db.read() as connection:
            rows = {
                row.uuid: row
                for row in connection.execute(
                    select(wallet_rows).where(wallet_rows.c.account_id == account_id)
                )
            }
            entries = connection.execute(
                select(credit_entries)
                .where(credit_entries.c.account_id == account_id)
                .order_by(credit_entries.c.wallet_uuid, credit_entries.c.seq)
            ).all()
            remaining = dict(
                connection.execute(
                    select(credit_lots.c.entry_uuid, credit_lots.c.remaining).where(
                        credit_lots.c.account_id == account_id
                    )
                ).all()
            )
            statuses = dict(
                connection.execute(
                    select(redemption_rows.c.uuid, redemption_rows.c.status).where(
                        redemption_rows.c.account_id == account_id
                    )
                ).all()
            )
            found = {
                wallet.uuid: service.get_wallet(connection, self.tenant.principal, wallet.uuid)
                for wallet in self.wallets
            }
        for wallet in self.wallets:
            row = rows[wallet.uuid]
            assert (row.global_balance, row.global_held, row.local_balance, row.local_held) == (
                wallet.balance["GLOBAL"],
                wallet.held["GLOBAL"],
                wallet.balance["LOCAL"],
                wallet.held["LOCAL"],
            )
            assert row.open_lots == sum(1 for lot in wallet.lots if lot.remaining)
            stored = [entry for entry in entries if entry.wallet_uuid == wallet.uuid]
            assert [
                (e.action, e.credit_type, e.amount, e.balance_after, e.reason, e.reverses_uuid)
                for e in stored
            ] == [
                (e.action, e.credit_type, e.amount, e.balance_after, e.reason, e.reverses)
                for e in wallet.entries
            ]
            for row_entry, model_entry in zip(stored, wallet.entries, strict=True):
                assert model_entry.uuid in (None, row_entry.uuid)
                model_entry.uuid = row_entry.uuid
                assert row_entry.redemption_uuid == model_entry.redemption_uuid
            assert [found[wallet.uuid].available(CreditType(t)) for t in TYPES] == [
                self._available(wallet, t) for t in TYPES
            ]
        assert remaining == {
            lot.entry_uuid: lot.remaining for wallet in self.wallets for lot in wallet.lots
        }
        assert statuses == {code.uuid: code.status for code in self.codes}

    @invariant()
    def the_ledger_and_its_lots_verify(self) -> None:
        assert_store_consistent(self.db)


@pytest.fixture
def machine_db(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[Database]:
    """A store of the machine's own: its sweeps and checks cover exactly what it wrote."""
    with own_store(request, database_url, tmp_path) as url:
        database = Database(url, pool_size=2)
        yield database
        database.dispose()


def test_holds_lots_the_clock_and_reversals_keep_every_invariant(
    machine_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Machine(HoldsMachine):
        db = machine_db
        clock = FrozenClock(monkeypatch)

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=15,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
