"""Each ledger entry queues its outbox event in the same statement on PostgreSQL (in the same
transaction on SQLite): the payload is the same on both, whatever the currency's decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from patron.core.db import Database
from patron.core.events import outbox_events
from patron.wallets import postings
from patron.wallets import service as wallets
from patron.wallets.ledger import InsufficientCredit
from patron.wallets.models import EntryCommand
from tests.support.tenants import make_contact, new_tenant


@pytest.mark.parametrize(
    ("currency", "points_precision", "credit_type", "amounts"),
    [
        ("USD", 0, "GLOBAL", ["12.50", "0.01", "999999.99"]),
        ("KWD", 0, "GLOBAL", ["1.125", "0.001"]),
        ("JPY", 0, "GLOBAL", ["1500", "1"]),
        ("USD", 0, "LOCAL", ["40", "7"]),
        ("USD", 2, "LOCAL", ["0.25", "3.10"]),
    ],
)
def test_an_entrys_event_carries_its_amounts_as_the_ledger_writes_them(
    db: Database, currency: str, points_precision: int, credit_type: str, amounts: list[str]
) -> None:
    tenant = new_tenant(db, currency=currency, points_precision=points_precision)
    wallet = make_contact(db, tenant).wallet_uuid
    entries = [
        wallets.post_entry(
            db,
            tenant.principal,
            EntryCommand(
                wallet_uuid=wallet, action="ADD", credit_type=credit_type, amount=Decimal(amount)
            ),
        )
        for amount in amounts
    ]
    entries.append(
        wallets.post_entry(
            db,
            tenant.principal,
            EntryCommand(
                wallet_uuid=wallet,
                action="SPEND",
                credit_type=credit_type,
                amount=Decimal(amounts[-1]),
            ),
        )
    )

    with db.read() as connection:
        rows = connection.execute(
            select(outbox_events.c.event_type, outbox_events.c.payload)
            .where(
                outbox_events.c.account_id == tenant.uuid,
                outbox_events.c.event_type.like("wallet.%"),
            )
            .order_by(outbox_events.c.created_at)
        ).all()
    expected = [
        (postings.EVENT_FOR_ACTION[entry.action], postings.event_payload(tenant.principal, entry))
        for entry in entries
    ]
    by_entry = {row.payload["entry_uuid"]: (row.event_type, row.payload) for row in rows}
    assert by_entry == {payload["entry_uuid"]: (kind, payload) for kind, payload in expected}
    for _, payload in expected:  # the same keys in the same order
        assert list(by_entry[payload["entry_uuid"]][1]) == list(payload)


def test_a_refused_debit_queues_no_event(db: Database) -> None:
    tenant = new_tenant(db)
    wallet = make_contact(db, tenant).wallet_uuid

    with pytest.raises(InsufficientCredit):
        wallets.post_entry(
            db,
            tenant.principal,
            EntryCommand(
                wallet_uuid=wallet, action="SPEND", credit_type="GLOBAL", amount=Decimal(1)
            ),
        )

    with db.read() as connection:
        events = (
            connection.execute(
                select(outbox_events.c.event_type).where(outbox_events.c.account_id == tenant.uuid)
            )
            .scalars()
            .all()
        )
    assert events == ["contact.created"]
