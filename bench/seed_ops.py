"""What the operations beyond the core ones need, made through the service layer (not
measured): redemption codes to redeem, an earning rule, contact persons for the Commerce
dialect and consumers with a password for the LoyaltyDish ``obtainToken``."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from decimal import Decimal

from bench.seed import Seeded, Tenant, _map
from patron.contact_persons import service as contact_persons
from patron.contact_persons.models import NewContactPerson
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.orders import service as orders
from patron.redemptions import service as redemptions
from patron.redemptions.models import NewRedemption
from patron.wallets import postings
from patron.wallets.models import CreditType

CODE_AMOUNT = Decimal("0.01")  # GLOBAL credit each code holds: a seeded wallet holds 1,000.00
EARNING_RATE = Decimal("1")  # LOCAL points per currency unit: a 25.00 order earns 25
CONSUMER_PASSWORD = "Zq7-vT9xmW2p-K4r"


# Codes made between two calls of create_codes' ``vacuum``.
CODES_BETWEEN_VACUUMS = 5_000


def create_codes(
    db: Database,
    tenant: Tenant,
    wallet_uuids: Sequence[str],
    count: int,
    *,
    threads: int,
    vacuum: Callable[[], None] | None = None,
) -> list[str]:
    """``count`` codes of 0.01 GLOBAL, 50 a call (the most one call makes), wallet after
    wallet, so that 16 clients redeeming them in order hit different wallets; ``vacuum``
    is called after every ``CODES_BETWEEN_VACUUMS`` codes."""
    quantity = redemptions.MAX_QUANTITY
    calls = -(-count // quantity)
    wallets = itertools.cycle(wallet_uuids)
    plan = [(next(wallets), min(quantity, count - call * quantity)) for call in range(calls)]

    def create(item: tuple[str, int]) -> list[str]:
        wallet_uuid, how_many = item
        made = redemptions.create_redemptions(
            db,
            tenant.principal,
            NewRedemption(
                credit_type="GLOBAL",
                amount=CODE_AMOUNT,
                wallet_uuid=wallet_uuid,
                quantity=how_many,
                note="bench code",
            ),
        )
        return [item.code for item in made]

    step = max(1, CODES_BETWEEN_VACUUMS // quantity) if vacuum is not None else len(plan)
    batches: list[list[str]] = []
    for start in range(0, len(plan), step):
        batches += _map(create, plan[start : start + step], threads)
        if vacuum is not None:
            vacuum()
    # Interleave the batches: consecutive codes belong to different wallets.
    return [code for row in itertools.zip_longest(*batches) for code in row if code is not None]


def set_earning_rule(db: Database, tenant: Tenant) -> None:
    orders.set_earning_rule(db, tenant.principal, EARNING_RATE)


def create_contact_persons(
    db: Database, tenant: Tenant, contacts: Sequence[Seeded], *, threads: int
) -> int:
    """One contact person for each of ``contacts`` (seeded customers)."""

    def create(item: tuple[int, Seeded]) -> None:
        number, seeded = item
        contact_persons.create_contact_person(
            db,
            tenant.principal,
            NewContactPerson(
                customer=seeded.number,
                name=f"Person {number}",
                phone=f"+1415556{number % 10000:04d}",
                email=f"person-{number}@example.com",
                note="bench",
            ),
        )

    _map(create, list(enumerate(contacts)), threads)
    return len(contacts)


def register_consumers(db: Database, tenant: Tenant, count: int, tag: str) -> list[str]:
    """``count`` consumers who can sign in: "email password" lines for the wrk script."""
    from patron.customers.consumers import service as consumers
    from patron.customers.consumers.models import Registration, TokenPolicy

    lines = []
    for number in range(count):
        email = f"consumer-{tag}-{number}@example.com"
        consumers.register(
            db,
            TokenPolicy(secret=None),
            tenant.uuid,
            Registration(
                email=email,
                password=CONSUMER_PASSWORD,
                password_confirmation=CONSUMER_PASSWORD,
                first_name="Bench",
                last_name=f"Consumer {number}",
            ),
            caller=tenant.principal,
        )
        lines.append(f"{email} {CONSUMER_PASSWORD}")
    return lines


def write_entries(db: Database, tenant: Tenant, wallet_uuids: Sequence[str], count: int) -> None:
    """``count`` ADDs (reason IMPORT, 0.01 GLOBAL or 1 LOCAL point each) written today, wallet
    after wallet, through the ledger's bulk front door: a busy day for the console to show."""
    batch = 5_000
    wallets = itertools.cycle(wallet_uuids)
    kinds = itertools.cycle((CreditType.GLOBAL, CreditType.LOCAL))
    for start in range(0, count, batch):
        openings = [
            postings.OpeningBalance(
                wallet_uuid=next(wallets),
                credit_type=next(kinds),
                amount=1,
                idempotency_key=f"bench-day-{start + index}",
            )
            for index in range(min(batch, count - start))
        ]
        with db.write() as connection:
            postings.post_openings(connection, tenant.principal, openings, utcnow())
