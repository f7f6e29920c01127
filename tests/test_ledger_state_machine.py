"""Random sequences of ledger commands against a plain-Python model of the ledger.

Hypothesis drives ADD / SPEND / REMOVE, conversions, idempotent replays, reused keys and bad
amounts through the service layer; after every step the store must agree with the model
entry by entry, every balance must equal the sum of its entries and never go below zero, and
``verify_ledger`` must find nothing wrong.

Run with ``--hypothesis-show-statistics`` to see how often each outcome was exercised.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, select

from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.core.idempotency import IdempotencyKeyReused
from patron.customers.tables import customers
from patron.wallets import ledger as rules
from patron.wallets import service
from patron.wallets.ledger import InsufficientCredit
from patron.wallets.models import ConversionCommand, CreditType, EntryCommand
from patron.wallets.tables import credit_day_totals, credit_entries, wallets
from patron.wallets.verify import verify_ledger
from tests.support.databases import own_store
from tests.support.tenants import Tenant, make_contact, new_tenant

TYPES = ("GLOBAL", "LOCAL")
RATES = tuple(Decimal(rate) for rate in ("0.01", "0.0133", "0.5", "1", "2.5", "100"))
KEYS = tuple(f"key-{n}" for n in range(6))
# Refused before anything is read: not a number, not positive, not finite, too precise, too big.
BAD_AMOUNTS = ("0", "-1", "NaN", "Infinity", "0.0001", "abc", "1e30")
WALLETS = 3


@dataclass(frozen=True)
class ModelEntry:
    uuid: str
    action: str
    credit_type: str
    amount: int
    balance_after: int


@dataclass
class ModelWallet:
    uuid: str
    contact_uuid: str
    balance: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TYPES, 0))
    entries: list[ModelEntry] = field(default_factory=list)


@dataclass(frozen=True)
class Claimed:
    """What a key was first used for, the entries that request wrote, and the request itself."""

    request: tuple[object, ...]
    entries: tuple[str, ...]
    command: EntryCommand | ConversionCommand


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.tenant: Tenant
        self.wallets: list[ModelWallet] = []
        self.keys: dict[str, Claimed] = {}
        self.places: dict[str, int] = {}

    @initialize(
        currency=st.sampled_from(["USD", "JPY", "KWD"]),
        points=st.sampled_from([0, 2]),
        funds=st.lists(st.integers(0, 100_000), min_size=2 * WALLETS, max_size=2 * WALLETS),
    )
    def open_account(self, currency: str, points: int, funds: list[int]) -> None:
        self.tenant = new_tenant(self.db, currency=currency, points_precision=points)
        self.places = {
            credit_type: rules.precision(self.tenant.principal, CreditType(credit_type))
            for credit_type in TYPES
        }
        for index in range(WALLETS):
            contact = make_contact(self.db, self.tenant)
            wallet = ModelWallet(contact.wallet_uuid, contact.customer.uuid)
            self.wallets.append(wallet)
            for credit_type, minor in zip(TYPES, funds[2 * index : 2 * index + 2], strict=True):
                if minor:
                    command = self._entry(
                        wallet, "ADD", credit_type, self._amount(minor, credit_type)
                    )
                    entry = service.post_entry(self.db, self.tenant.principal, command)
                    self._record(wallet, entry.uuid, "ADD", credit_type, minor)

    # --- helpers ------------------------------------------------------------------------------

    def _amount(self, minor: int, credit_type: str, *, as_text: bool = False) -> object:
        """What a client sends: the exact decimal, as a Decimal or as a numeric string."""
        value = Decimal(minor).scaleb(-self.places[credit_type])
        return str(value) if as_text else value

    @staticmethod
    def _entry(
        wallet: ModelWallet, action: str, credit_type: str, amount: object, key: str | None = None
    ) -> EntryCommand:
        return EntryCommand(
            wallet_uuid=wallet.uuid,
            action=action,
            credit_type=credit_type,
            amount=amount,
            idempotency_key=key,
        )

    @staticmethod
    def _minor(wallet: ModelWallet, credit_type: str, action: str) -> st.SearchStrategy[int]:
        """Credits of any size; debits mostly within the balance, or all of it, or just more."""
        if action == "ADD":
            return st.integers(1, 100_000)
        balance = wallet.balance[credit_type]
        if not balance:
            return st.integers(1, 100)
        within = st.integers(1, balance)
        return st.one_of(within, within, st.just(balance), st.just(balance + 1))

    def _record(
        self, wallet: ModelWallet, uuid: str, action: str, credit_type: str, amount: int
    ) -> None:
        wallet.balance[credit_type] += amount if action == "ADD" else -amount
        wallet.entries.append(
            ModelEntry(uuid, action, credit_type, amount, wallet.balance[credit_type])
        )

    def _key_outcome(self, key: str | None, request: tuple[object, ...]) -> str:
        """'new' (no key, or a fresh one), 'replay' (same request) or 'reused' (other input)."""
        if key is None or key not in self.keys:
            return "new"
        return "replay" if self.keys[key].request == request else "reused"

    # --- rules --------------------------------------------------------------------------------

    @rule(
        index=st.integers(0, WALLETS - 1),
        action=st.sampled_from(["ADD", "SPEND", "REMOVE"]),
        credit_type=st.sampled_from(TYPES),
        key=st.none() | st.sampled_from(KEYS),
        as_text=st.booleans(),
        bad_amount=st.none() | st.none() | st.none() | st.sampled_from(BAD_AMOUNTS),
        data=st.data(),
    )
    def post_entry(
        self,
        index: int,
        action: str,
        credit_type: str,
        key: str | None,
        as_text: bool,
        bad_amount: str | None,
        data: st.DataObject,
    ) -> None:
        wallet = self.wallets[index]
        principal = self.tenant.principal
        if bad_amount is not None:
            event("post: refused amount")
            with pytest.raises(InvalidInput):
                service.post_entry(
                    self.db, principal, self._entry(wallet, action, credit_type, bad_amount, key)
                )
            return
        minor = data.draw(self._minor(wallet, credit_type, action), label="minor")
        amount = self._amount(minor, credit_type, as_text=as_text)
        command = self._entry(wallet, action, credit_type, amount, key)
        request = ("post", wallet.uuid, action, credit_type, minor)
        outcome = self._key_outcome(key, request)
        if outcome == "reused":
            event("post: key reused for other input")
            with pytest.raises(IdempotencyKeyReused):
                service.post_entry(self.db, principal, command)
        elif outcome == "replay":
            event("post: replayed by key")
            assert key is not None
            assert (service.post_entry(self.db, principal, command).uuid,) == self.keys[key].entries
        elif action != "ADD" and minor > wallet.balance[credit_type]:
            event("post: insufficient credit")
            with pytest.raises(InsufficientCredit):
                service.post_entry(self.db, principal, command)
        else:
            drained = action != "ADD" and minor == wallet.balance[credit_type]
            event(f"post: {action} written" + (" down to zero" if drained else ""))
            entry = service.post_entry(self.db, principal, command)
            assert (entry.action.value, entry.credit_type.value, entry.amount) == (
                action,
                credit_type,
                minor,
            )
            self._record(wallet, entry.uuid, action, credit_type, minor)
            if key is not None:
                self.keys[key] = Claimed(request, (entry.uuid,), command)

    @rule(
        index=st.integers(0, WALLETS - 1),
        source=st.sampled_from(TYPES),
        rate=st.sampled_from(RATES),
        key=st.none() | st.sampled_from(KEYS),
        data=st.data(),
    )
    def convert(
        self, index: int, source: str, rate: Decimal, key: str | None, data: st.DataObject
    ) -> None:
        wallet = self.wallets[index]
        principal = self.tenant.principal
        target = "LOCAL" if source == "GLOBAL" else "GLOBAL"
        minor = data.draw(self._minor(wallet, source, "REMOVE"), label="minor")
        command = ConversionCommand(
            wallet_uuid=wallet.uuid,
            amount=self._amount(minor, source),
            from_type=source,
            to_type=target,
            conversion_rate=rate,
            idempotency_key=key,
        )
        exact = Decimal(minor).scaleb(-self.places[source]) * rate
        added = int(exact.scaleb(self.places[target]).to_integral_value(rounding=ROUND_DOWN))
        request = ("convert", wallet.uuid, source, target, minor, str(rate))
        outcome = self._key_outcome(key, request)
        if added == 0:
            # Checked with the input, before the key is looked up.
            event("convert: below the smallest unit")
            with pytest.raises(InvalidInput, match="less than the smallest"):
                service.convert_credit(self.db, principal, command)
        elif outcome == "reused":
            event("convert: key reused for other input")
            with pytest.raises(IdempotencyKeyReused):
                service.convert_credit(self.db, principal, command)
        elif outcome == "replay":
            event("convert: replayed by key")
            assert key is not None
            replayed = service.convert_credit(self.db, principal, command)
            assert (replayed.removed.uuid, replayed.added.uuid) == self.keys[key].entries
        elif minor > wallet.balance[source]:
            event("convert: insufficient credit")
            with pytest.raises(InsufficientCredit):
                service.convert_credit(self.db, principal, command)
        else:
            event("convert: written")
            conversion = service.convert_credit(self.db, principal, command)
            assert (conversion.removed.amount, conversion.added.amount) == (minor, added)
            assert conversion.removed.conversion_uuid == conversion.conversion_uuid
            assert conversion.added.conversion_uuid == conversion.conversion_uuid
            self._record(wallet, conversion.removed.uuid, "REMOVE", source, minor)
            self._record(wallet, conversion.added.uuid, "ADD", target, added)
            if key is not None:
                entries = (conversion.removed.uuid, conversion.added.uuid)
                self.keys[key] = Claimed(request, entries, command)

    @precondition(lambda self: bool(self.keys))
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        """A client retrying exactly what it sent before: the same answer, nothing new written."""
        claimed = self.keys[data.draw(st.sampled_from(sorted(self.keys)), label="key")]
        event("retry of an earlier keyed request")
        if isinstance(claimed.command, EntryCommand):
            entry = service.post_entry(self.db, self.tenant.principal, claimed.command)
            assert (entry.uuid,) == claimed.entries
        else:
            conversion = service.convert_credit(self.db, self.tenant.principal, claimed.command)
            assert (conversion.removed.uuid, conversion.added.uuid) == claimed.entries

    def teardown(self) -> None:
        """Delete the example's contacts (and so its wallets and entries, as seed 000 says)
        and the days' totals that counted those entries: the next example's
        ``verify_ledger`` then reads only what that example writes."""
        if not self.wallets:
            return
        account_id = self.tenant.principal.account_id
        with self.db.write() as connection:
            connection.execute(
                delete(customers).where(
                    customers.c.account_id == account_id,
                    customers.c.uuid.in_([wallet.contact_uuid for wallet in self.wallets]),
                )
            )
            connection.execute(
                delete(credit_day_totals).where(credit_day_totals.c.account_id == account_id)
            )

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def store_agrees_with_the_model(self) -> None:
        if not self.wallets:
            return
        account_id = self.tenant.principal.account_id
        with self.db.read() as connection:
            stored = {
                row.uuid: row
                for row in connection.execute(
                    select(wallets).where(wallets.c.account_id == account_id)
                )
            }
            entries_of: dict[str, list[Any]] = {wallet.uuid: [] for wallet in self.wallets}
            for entry in connection.execute(
                select(credit_entries)
                .where(credit_entries.c.account_id == account_id)
                .order_by(credit_entries.c.wallet_uuid, credit_entries.c.seq)
            ):
                entries_of[entry.wallet_uuid].append(entry)
        assert set(stored) == set(entries_of)
        for wallet in self.wallets:
            row, entries = stored[wallet.uuid], entries_of[wallet.uuid]
            assert (row.global_balance, row.local_balance) == (
                wallet.balance["GLOBAL"],
                wallet.balance["LOCAL"],
            )
            assert min(row.global_balance, row.local_balance) >= 0
            assert (row.global_held, row.local_held) == (0, 0)
            assert row.entry_count == len(wallet.entries)
            assert [
                ModelEntry(e.uuid, e.action, e.credit_type, e.amount, e.balance_after)
                for e in entries
            ] == wallet.entries
            assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
            for credit_type in TYPES:
                signed = [
                    e.amount if e.action == "ADD" else -e.amount
                    for e in entries
                    if e.credit_type == credit_type
                ]
                assert sum(signed) == wallet.balance[credit_type]

    @invariant()
    def verify_ledger_finds_nothing(self) -> None:
        report = verify_ledger(self.db)
        assert report.ok, report.problems


@pytest.fixture
def machine_db(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[Database]:
    """A store of the machine's own, so that ``verify_ledger`` covers exactly what it wrote."""
    with own_store(request, database_url, tmp_path) as url:
        database = Database(url, pool_size=2)
        yield database
        database.dispose()


def test_random_ledger_commands_keep_every_invariant(machine_db: Database) -> None:
    class OnThisStore(LedgerMachine):
        def __init__(self) -> None:
            super().__init__(machine_db)

    run_state_machine_as_test(
        OnThisStore,
        settings=settings(
            max_examples=20,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
