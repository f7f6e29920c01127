"""A person with everything Patron can hold about one, for the erasure and export tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.models import CustomerChanges
from patron.redemptions import service as redemptions
from patron.redemptions.models import NewRedemption
from patron.wallets import service as wallets
from patron.wallets.models import EntryCommand
from patron.wallets.tables import wallets as wallets_table
from tests.support.contact_persons import make_contact_person
from tests.support.loyaltydish import sign_up
from tests.support.orders import record
from tests.support.tenants import Tenant, fund, make_contact

EMAIL = "jane.roe@example.com"
SHOPIFY_GID = "gid://shopify/Customer/8800001"


@dataclass(frozen=True)
class Person:
    """A contact with everything Patron can hold about a person, and a neighbour kept."""

    uuid: str
    number: int
    wallet_uuid: str
    code: str
    kept_uuid: str
    kept_wallet_uuid: str


def make_person(db: Database, tenant: Tenant) -> Person:
    consumer = sign_up(db, tenant, email=EMAIL, first_name="Jane", last_name="Roe")
    customers.update_customer(
        db,
        tenant.principal,
        consumer.uuid,
        CustomerChanges(
            profile={
                "name": "Jane Roe",
                "phone": "+14155550100",
                "secondary_email": "jane.other@example.com",
                "birthday": date(1990, 5, 17),
                "gender": "FEMALE",
                "address_line1": "1 Main St",
                "city": "Springfield",
                "postal_code": "12345",
                "country": "US",
                "loyalty_id": "LOY-JANE",
                "picture": "https://example.com/jane.png",
                "extra_info": {"favourite": "tea"},
                "source_id": "crm-77",
                "notes": "Prefers e-mail",
            },
            identities={"SHOPIFY": SHOPIFY_GID, "KLAVIYO": "01JANEKLAVIYO"},
        ),
    )
    [wallet_uuid] = wallets_of(db, tenant, consumer.uuid)
    wallets.post_entry(
        db,
        tenant.principal,
        EntryCommand(
            wallet_uuid=wallet_uuid,
            action="ADD",
            credit_type="GLOBAL",
            amount=Decimal("25.00"),
            note="birthday gift for Jane Roe",
        ),
    )
    wallets.post_entry(
        db,
        tenant.principal,
        EntryCommand(
            wallet_uuid=wallet_uuid,
            action="ADD",
            credit_type="LOCAL",
            amount=Decimal(300),
            expires_at=utcnow() + timedelta(days=30),
        ),
    )
    [code] = redemptions.create_redemptions(
        db,
        tenant.principal,
        NewRedemption(
            credit_type="GLOBAL", amount="5.00", wallet_uuid=wallet_uuid, note="for Jane"
        ),
    )
    record(db, tenant, "12.00", customer=consumer.uuid, external_id="JANE-1", credit_used="3.00")
    make_contact_person(db, tenant, consumer.number, name="Jane's assistant", email="pa@ex.com")
    kept = make_contact(db, tenant, email="kept@example.com", name="Kept Person")
    fund(db, tenant, kept.wallet_uuid, "7.00")
    return Person(
        consumer.uuid, consumer.number, wallet_uuid, code.code, kept.customer.uuid, kept.wallet_uuid
    )


def wallets_of(db: Database, tenant: Tenant, customer_uuid: str) -> list[str]:
    with db.read() as connection:
        return list(
            connection.execute(
                select(wallets_table.c.uuid).where(
                    wallets_table.c.account_id == tenant.uuid,
                    wallets_table.c.customer_uuid == customer_uuid,
                )
            ).scalars()
        )
