"""The fields the fast path answers, each reading what the schema's own type would hold.

Every getter mirrors the ``of`` constructor of its Strawberry type (``Contact.of``,
``Wallet.of``, ``CreditEntry.of``) or its resolver: the value it returns is then serialized
by the schema's scalar for that field, so both paths write the same JSON. The differential
tests (``tests/test_fast_reads.py``) hold them to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from strawberry.utils.str_converters import to_camel_case

from patron.accounts.principal import Principal
from patron.api.graphql import contacts as contact_api
from patron.api.graphql.context import Context
from patron.api.graphql.relay import global_id
from patron.core.money import from_minor
from patron.core.paging import check_page
from patron.customers import service as customer_service
from patron.customers.models import display_name
from patron.wallets import ledger
from patron.wallets import service as wallet_service
from patron.wallets.models import CreditEntry as CreditEntryModel
from patron.wallets.models import CreditType as CreditTypeModel
from patron.wallets.models import available

# A value read from one source object (the principal gives the precisions of amounts).
Getter = Callable[[Any, Principal], Any]
# The values of a field for all its sources at once: arguments, loaders, SQL.
Resolver = Callable[[Context, list[Any], dict[str, Any]], list[Any]]
# A resolver that reads only the columns its objects' selected fields need (their
# ``columns``, sorted): the values are then records with just those attributes.
Projected = Callable[[Context, list[Any], dict[str, Any], tuple[str, ...]], list[Any]]


@dataclass(frozen=True, slots=True)
class Field:
    attribute: Callable[[Any], Any] | None = None  # an attribute of the source, as it is
    get: Getter | None = None
    resolve: Resolver | None = None
    project: Projected | None = None
    # The object type its values have; None for a scalar or enum (or a list of them).
    type_name: str | None = None
    # The source's attributes this field reads, where its source comes from a projection.
    columns: tuple[str, ...] = ()
    # A projected field whose values its source's projection can read in the same statement:
    # given the field's own columns, the attributes to ask of the source's projection.
    join: Callable[[tuple[str, ...]], tuple[str, ...]] | None = None


def _attribute(name: str) -> Field:
    return Field(attribute=attrgetter(name), columns=(name,))


def _account(context: Context, sources: list[Any], _args: dict[str, Any]) -> list[Any]:
    return [context.principal for _ in sources]


def _contacts(
    context: Context, sources: list[Any], args: dict[str, Any], columns: tuple[str, ...]
) -> list[Any]:
    # The uuid is read always: the identities and wallet of the page are loaded by it.
    names = columns if "uuid" in columns else tuple(sorted({"uuid", *columns}))
    pages = []
    for _ in sources:
        found = customer_service.find_customer_values(
            context.connection(),
            context.principal,
            names,
            limit=args.get("limit"),
            offset=args.get("offset"),
            uuid=args.get("uuid"),
            email=args.get("email"),
            shopify_id=args.get("shopifyId"),
        )
        contact_api.expect_contacts(context, [customer.uuid for customer in found])
        pages.append(found)
    return pages


def _contacts_count(context: Context, sources: list[Any], _args: dict[str, Any]) -> list[Any]:
    return [
        customer_service.count_customers(context.connection(), context.principal) for _ in sources
    ]


def _identities(_context: Context, sources: list[Any], _args: dict[str, Any]) -> list[Any]:
    # Read with the contacts, in the same statement (the projection's ``identities``).
    return [customer.identities for customer in sources]


def _joined_wallet(columns: tuple[str, ...]) -> tuple[str, ...]:
    prefix = customer_service.WALLET_PREFIX
    return tuple(prefix + name for name in wallet_service.projected_names(columns))


def _wallet(
    context: Context, sources: list[Any], _args: dict[str, Any], columns: tuple[str, ...]
) -> list[Any]:
    # The wallets of every contact of the level, of the columns the selected wallet fields
    # need: read with the contacts (``_joined_wallet``), else by one statement of their own.
    # A contact without its wallet would be a null in a non-null field: not answered here.
    if not sources:
        return []
    names = wallet_service.projected_names(columns)
    joined = _joined_wallet(columns)
    if set(joined) <= set(sources[0]._fields):
        values = attrgetter(*joined)
        wallets = wallet_service.joined_wallet_values(
            context.connection(), context.principal, [values(c) for c in sources], names
        )
    else:
        found = wallet_service.wallet_values_for_customers(
            context.connection(), context.principal, [c.uuid for c in sources], columns
        )
        wallets = [found.get(customer.uuid) for customer in sources]
    context.seen_wallets.update(dict.fromkeys(w.uuid for w in wallets if w is not None))
    return wallets


def _credit_entries(context: Context, sources: list[Any], args: dict[str, Any]) -> list[Any]:
    size, start = check_page(args.get("limit"), args.get("offset"))
    loader = context.entries_by_wallet(size, start)
    return [loader.load(wallet.uuid) for wallet in sources]


ACCOUNT: dict[str, Field] = {
    "uuid": _attribute("account_id"),
    "name": _attribute("account_name"),
    "currency": _attribute("currency"),
    "pointsPrecision": _attribute("points_precision"),
    "contactsCount": Field(resolve=_contacts_count),
    "contacts": Field(project=_contacts, type_name="Contact"),
}


# A contact here is a record of the columns its selected fields read (``Field.columns``),
# under the model's attribute names and with the model's values.


def _gender(customer: Any, _principal: Principal) -> Any:
    return contact_api.Gender(customer.gender) if customer.gender else None


def _services(customer: Any, _principal: Principal) -> Any:
    return [contact_api.ConnectedServiceType(s) for s in customer.connected_services]


def _display_name(customer: Any, _principal: Principal) -> Any:
    return display_name(customer.name, customer.first_name, customer.last_name)


def _contact_id(customer: Any, _principal: Principal) -> Any:
    return global_id("Contact", customer.uuid)


_CONTACT_ATTRIBUTES = [
    "uuid",
    "number",
    "first_name",
    "last_name",
    "email",
    "secondary_email",
    "phone",
    "birthday",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "loyalty_id",
    "picture",
    "extra_info",
    "source",
    "source_id",
    "notes",
    "accepts_marketing",
    "verified",
    "archived",
    "created_at",
    "updated_at",
]

CONTACT: dict[str, Field] = {
    **{to_camel_case(name): _attribute(name) for name in _CONTACT_ATTRIBUTES},
    "id": Field(get=_contact_id, columns=("uuid",)),
    "name": Field(get=_display_name, columns=("first_name", "last_name", "name")),
    "gender": Field(get=_gender, columns=("gender",)),
    "connectedServices": Field(get=_services, columns=("connected_services",)),
    "identities": Field(resolve=_identities, type_name="Identity", columns=("identities",)),
    "wallet": Field(project=_wallet, type_name="Wallet", columns=("uuid",), join=_joined_wallet),
}
assert all(set(field.columns) <= customer_service.PROJECTABLE for field in CONTACT.values()), (
    "a contact field reads a column the projected read cannot give"
)


def _identity(service: str) -> Field:
    def get(found: dict[str, str], _principal: Principal) -> Any:
        return found.get(service)

    return Field(get=get)


IDENTITY: dict[str, Field] = {
    "shopify": _identity("SHOPIFY"),
    "klaviyo": _identity("KLAVIYO"),
    "lightspeed": _identity("LIGHTSPEED"),
    "salesforce": _identity("SALESFORCE"),
}


# A wallet here is a record of the columns its selected fields read (``Field.columns``) and
# of its unswept expired credit, under the model's attribute names and with its values.


def _available(credit_type: CreditTypeModel, balance: str, held: str) -> Field:
    def get(wallet: Any, principal: Principal) -> Any:
        spendable = available(wallet, credit_type)
        return from_minor(spendable, ledger.precision(principal, credit_type))

    return Field(get=get, columns=(balance, held))


def _held(credit_type: CreditTypeModel, held: str) -> Field:
    def get(wallet: Any, principal: Principal) -> Any:
        return from_minor(getattr(wallet, held), ledger.precision(principal, credit_type))

    return Field(get=get, columns=(held,))


def _shopify_balance(wallet: Any, principal: Principal) -> Any:
    return from_minor(wallet.shopify_balance or 0, principal.currency_precision)


def _wallet_id(wallet: Any, _principal: Principal) -> Any:
    return global_id("Wallet", wallet.uuid)


GLOBAL, LOCAL = CreditTypeModel.GLOBAL, CreditTypeModel.LOCAL

WALLET: dict[str, Field] = {
    "uuid": _attribute("uuid"),
    "id": Field(get=_wallet_id, columns=("uuid",)),
    "globalCreditBalance": _available(GLOBAL, "global_balance", "global_held"),
    "localCreditBalance": _available(LOCAL, "local_balance", "local_held"),
    "globalCreditHeld": _held(GLOBAL, "global_held"),
    "localCreditHeld": _held(LOCAL, "local_held"),
    "shopifyCreditBalance": Field(get=_shopify_balance, columns=("shopify_balance",)),
    "shopifyCreditSyncedAt": _attribute("shopify_synced_at"),
    "createdAt": _attribute("created_at"),
    "updatedAt": _attribute("updated_at"),
    "creditEntries": Field(resolve=_credit_entries, type_name="CreditEntry", columns=("uuid",)),
}
assert all(set(field.columns) <= wallet_service.WALLET_PROJECTABLE for field in WALLET.values()), (
    "a wallet field reads a column the projected read cannot give"
)


def _entry_amount(name: str) -> Field:
    def get(entry: CreditEntryModel, principal: Principal) -> Any:
        return from_minor(getattr(entry, name), ledger.precision(principal, entry.credit_type))

    return Field(get=get)


def _action(entry: CreditEntryModel, _principal: Principal) -> Any:
    return entry.action


def _credit_type(entry: CreditEntryModel, _principal: Principal) -> Any:
    return entry.credit_type


def _reason(entry: CreditEntryModel, _principal: Principal) -> Any:
    return entry.reason


def _entry_id(entry: CreditEntryModel, _principal: Principal) -> Any:
    return global_id("CreditEntry", entry.uuid)


CREDIT_ENTRY: dict[str, Field] = {
    "uuid": _attribute("uuid"),
    "id": Field(get=_entry_id),
    "action": Field(get=_action),
    "creditType": Field(get=_credit_type),
    "amount": _entry_amount("amount"),
    "amountMinor": _attribute("amount"),
    "balanceAfter": _entry_amount("balance_after"),
    "reason": Field(get=_reason),
    "note": _attribute("note"),
    "idempotencyKey": _attribute("idempotency_key"),
    "conversionUuid": _attribute("conversion_uuid"),
    "createdAt": _attribute("created_at"),
}

# Per object type, the fields the fast path answers; any other field sends the whole
# request to the normal executor.
Types = dict[str, dict[str, Field]]

TYPES: Types = {
    "Query": {"account": Field(resolve=_account, type_name="Account")},
    "Account": ACCOUNT,
    "Contact": CONTACT,
    "Identity": IDENTITY,
    "Wallet": WALLET,
    "CreditEntry": CREDIT_ENTRY,
}
