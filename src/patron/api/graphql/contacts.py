"""Contacts on the native API (seed 000)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from patron.api.graphql import orders as order_api
from patron.api.graphql import promotions as promotion_api
from patron.api.graphql.context import Context
from patron.api.graphql.errors import UserError, domain_errors_as
from patron.api.graphql.relay import Node
from patron.api.graphql.wallets import Wallet
from patron.customers import service as customer_service
from patron.customers.models import ConnectedService, Customer, CustomerChanges, NewCustomer
from patron.customers.models import Gender as GenderModel
from patron.customers.profile import PROFILE_FIELDS
from patron.privacy import service as privacy

# The customers' enums, declared once in customers.models, under the names this API gives them.
strawberry.enum(
    ConnectedService,
    name="ConnectedServiceType",
    description="External services a contact can be linked to and synced with.",
)
ConnectedServiceType = ConnectedService
strawberry.enum(GenderModel, name="Gender")
Gender = GenderModel


@strawberry.type(description="A contact's ids in external systems.")
class Identity:
    shopify: str | None = strawberry.field(description="Shopify customer GID.")
    klaviyo: str | None
    lightspeed: str | None
    salesforce: str | None


@strawberry.type(description="A person who buys: one wallet each.")
class Contact(Node):
    uuid: str
    number: int = strawberry.field(description="Stable per-account integer id.")
    name: str | None
    first_name: str | None
    last_name: str | None
    email: str | None
    secondary_email: str | None
    phone: str | None
    birthday: date | None
    gender: Gender | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    region: str | None
    postal_code: str | None
    country: str | None
    loyalty_id: str | None
    picture: str | None
    extra_info: JSON | None
    source: str | None
    source_id: str | None
    notes: str | None
    accepts_marketing: bool
    verified: bool
    archived: bool
    connected_services: list[ConnectedServiceType]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, customer: Customer) -> Contact:
        return cls(
            uuid=customer.uuid,
            number=customer.number,
            name=customer.display_name,
            first_name=customer.first_name,
            last_name=customer.last_name,
            email=customer.email,
            secondary_email=customer.secondary_email,
            phone=customer.phone,
            birthday=customer.birthday,
            gender=Gender(customer.gender) if customer.gender else None,
            address_line1=customer.address_line1,
            address_line2=customer.address_line2,
            city=customer.city,
            region=customer.region,
            postal_code=customer.postal_code,
            country=customer.country,
            loyalty_id=customer.loyalty_id,
            picture=customer.picture,
            extra_info=customer.extra_info,  # type: ignore[arg-type]
            source=customer.source,
            source_id=customer.source_id,
            notes=customer.notes,
            accepts_marketing=customer.accepts_marketing,
            verified=customer.verified,
            archived=customer.archived,
            connected_services=[ConnectedServiceType(s) for s in customer.connected_services],
            created_at=customer.created_at,
            updated_at=customer.updated_at,
        )

    @strawberry.field
    def identities(self, info: Info[Context, None]) -> Identity:
        found = info.context.identities_by_customer().load(self.uuid)
        return Identity(
            shopify=found.get("SHOPIFY"),
            klaviyo=found.get("KLAVIYO"),
            lightspeed=found.get("LIGHTSPEED"),
            salesforce=found.get("SALESFORCE"),
        )

    @strawberry.field
    def wallet(self, info: Info[Context, None]) -> Wallet:
        context = info.context
        wallet = context.wallet_by_customer().load(self.uuid)
        if wallet is None:  # pragma: no cover - a contact always has its wallet
            raise RuntimeError(f"contact {self.uuid} has no wallet")
        return Wallet.of(wallet, context.principal)

    orders_count: int = strawberry.field(
        resolver=order_api.contact_orders_count, description="Completed orders."
    )
    expenses: Decimal = strawberry.field(
        resolver=order_api.contact_expenses, description="Completed order totals less refunds."
    )
    orders: list[order_api.Order] = strawberry.field(
        resolver=order_api.contact_orders,
        description="Purchase history, newest first; limit 0 to 250 (default 50).",
    )
    available_promotions: list[promotion_api.Promotion] = strawberry.field(
        resolver=promotion_api.contact_available_promotions
    )


def expect_rows(context: Context, contacts: list[Contact]) -> None:
    """Announce a page's contacts to the loaders so that nested fields batch."""
    expect_contacts(context, [contact.uuid for contact in contacts])


def expect_contacts(context: Context, uuids: list[str]) -> None:
    context.wallet_by_customer().expect(uuids)
    context.identities_by_customer().expect(uuids)
    context.seen_contacts.update(dict.fromkeys(uuids))


@strawberry.input(description="External ids to link; a Shopify id may be a GID or a number.")
class IdentityInput:
    shopify_id: str | None = strawberry.UNSET
    klaviyo_id: str | None = strawberry.UNSET
    lightspeed_id: str | None = strawberry.UNSET
    salesforce_id: str | None = strawberry.UNSET


# The profile fields this API takes; each input attribute has the core field's name.
_PROFILE_INPUTS = tuple(name for name in PROFILE_FIELDS if name != "user_type")
_IDENTITY_INPUTS = {
    "SHOPIFY": "shopify_id",
    "KLAVIYO": "klaviyo_id",
    "LIGHTSPEED": "lightspeed_id",
    "SALESFORCE": "salesforce_id",
}


@strawberry.input
class ContactInput:
    email: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    secondary_email: str | None = strawberry.UNSET
    birthday: date | None = strawberry.UNSET
    gender: Gender | None = strawberry.UNSET
    address_line1: str | None = strawberry.UNSET
    address_line2: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    region: str | None = strawberry.UNSET
    postal_code: str | None = strawberry.UNSET
    country: str | None = strawberry.UNSET
    loyalty_id: str | None = strawberry.UNSET
    picture: str | None = strawberry.UNSET
    extra_info: JSON | None = strawberry.UNSET
    source: str | None = strawberry.UNSET
    source_id: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET
    accepts_marketing: bool | None = strawberry.UNSET
    verified: bool | None = strawberry.UNSET
    archived: bool | None = strawberry.UNSET
    identities: IdentityInput | None = strawberry.UNSET
    connected_services: list[ConnectedServiceType] | None = strawberry.UNSET
    idempotency_key: str | None = strawberry.field(
        default=None, description="Retrying with the same key returns the first result."
    )


@strawberry.input(description="Only the fields given change; null clears an optional field.")
class UpdateContactInput(ContactInput):
    pass


def _given(value: Any) -> bool:
    return value is not strawberry.UNSET


def _profile(contact: ContactInput) -> dict[str, Any]:
    profile: dict[str, Any] = {}
    for name in _PROFILE_INPUTS:
        value = getattr(contact, name)
        if _given(value):
            profile[name] = value.value if isinstance(value, Enum) else value
    return profile


def _identities(contact: ContactInput) -> dict[str, str | None]:
    given = contact.identities
    if not _given(given) or given is None:
        return {}
    found: dict[str, str | None] = {}
    for service, attribute in _IDENTITY_INPUTS.items():
        value = getattr(given, attribute)
        if _given(value):
            found[service] = value
    return found


def _services(contact: ContactInput) -> list[str] | None:
    services = contact.connected_services
    if not _given(services) or services is None:
        return None
    return [service.value for service in services]


@strawberry.type
class CreateContactResponse:
    success: bool
    contact: Contact | None = None
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ContactOperationResponse:
    success: bool
    contact: Contact | None = None
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@domain_errors_as(CreateContactResponse)
def create_contact(info: Info[Context, None], contact: ContactInput) -> CreateContactResponse:
    context = info.context
    command = NewCustomer(
        profile={key: value for key, value in _profile(contact).items() if value is not None},
        identities={k: v for k, v in _identities(contact).items() if v is not None},
        connected_services=_services(contact) or [],
    )
    created = customer_service.create_customer(
        context.db, context.principal, command, idempotency_key=contact.idempotency_key
    )
    if created.wallet is not None and created.identities is not None:
        context.know_created(created.customer.uuid, created.wallet, created.identities)
    return CreateContactResponse(success=True, contact=Contact.of(created.customer))


@domain_errors_as(ContactOperationResponse)
def update_contact(
    info: Info[Context, None], uuid: str, contact: UpdateContactInput
) -> ContactOperationResponse:
    context = info.context
    changes = CustomerChanges(
        profile=_profile(contact),
        identities=_identities(contact),
        connected_services=_services(contact),
    )
    updated = customer_service.update_customer(context.db, context.principal, uuid, changes)
    return ContactOperationResponse(success=True, contact=Contact.of(updated))


@domain_errors_as(ContactOperationResponse)
def delete_contact(info: Info[Context, None], uuid: str) -> ContactOperationResponse:
    """A contact without credit entries is deleted with its wallet; one with entries is
    erased (admin scope): the person is gone for good, the books keep its wallet anonymous."""
    context = info.context
    privacy.remove_or_erase(context.db, context.principal, uuid)
    return ContactOperationResponse(success=True)


@strawberry.type
class UpsertContactResponse:
    success: bool
    contact: Contact | None = None
    created: bool = strawberry.field(
        default=False, description="True when no contact matched and this one was created."
    )
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@domain_errors_as(UpsertContactResponse)
def upsert_contact(info: Info[Context, None], contact: ContactInput) -> UpsertContactResponse:
    """The contact the email or an external id names (matched as createContact would refuse
    them), changed to the fields given; created with its wallet when none matches. The same
    call again changes nothing. Email and ids naming two contacts are refused (MATCH_CONFLICT)."""
    context = info.context
    changes = CustomerChanges(
        profile=_profile(contact),
        identities=_identities(contact),
        connected_services=_services(contact),
    )
    done = customer_service.upsert_customer(context.db, context.principal, changes)
    return UpsertContactResponse(
        success=True, contact=Contact.of(done.customer), created=done.created
    )
