"""Many customers at once (an import): the create and update rules of one, batched.

A row is cleaned by the same field rules as the API's (``clean_import``), then a batch is
upserted in the caller's transaction with a few statements: who each row's key names, who
holds each unique value, the new customers with their identities, wallets and outbox events,
and the changes of those that exist. A value another customer holds refuses the row with the
API's own error; the rest of the batch goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from patron.accounts import service as accounts
from patron.accounts.principal import Principal
from patron.core.bulk import insert_tuples, values_in
from patron.core.errors import Conflict, DomainError, InvalidInput, ValidationErrors
from patron.core.events import record_events
from patron.core.ids import time_ordered_uuids
from patron.customers import repository, validation
from patron.customers.profile import clean_profile
from patron.customers.tables import customers, identities
from patron.wallets import service as wallets

MATCHES = ("email", "shopify", "external")

# The profile fields an import may set, by the column names of a file.
IMPORT_FIELDS = {
    "email": "email",
    "name": "name",
    "first_name": "first_name",
    "last_name": "last_name",
    "phone": "phone",
    "birthday": "birthday",
    "external_id": "source_id",
    "note": "notes",
}
# Each profile field's column, for the errors.
_FIELD_COLUMNS = {core: column for column, core in IMPORT_FIELDS.items()}
IMPORT_IDENTITIES = {
    "shopify_id": "SHOPIFY",
    "klaviyo_id": "KLAVIYO",
    "lightspeed_id": "LIGHTSPEED",
}

# The columns a new customer's row names (every one, so that a batch is one statement).
_PROFILE_COLUMNS = (
    "name",
    "first_name",
    "last_name",
    "email",
    "email_normalized",
    "phone",
    "birthday",
    "birthday_month",
    "source_id",
    "notes",
)


@dataclass  # not frozen: an import makes one a row, and a frozen one costs four times more
class ImportedCustomer:
    """One cleaned row: profile fields by core name, external ids (stored form) by service."""

    profile: dict[str, Any]
    identities: dict[str, str] = field(default_factory=dict)

    def key(self, match: str) -> str | None:
        """The value the row is matched by: its email, Shopify id or external id."""
        if match == "email":
            value: str | None = self.profile.get("email_normalized")
        elif match == "shopify":
            value = self.identities.get("SHOPIFY")
        else:
            value = self.profile.get("source_id")
        return value

    def claims(self, match: str) -> list[tuple[str, str]]:
        """The unique values the row holds: two rows of one batch must not share any."""
        found = [("key", self.key(match) or "")]
        if self.profile.get("email_normalized"):
            found.append(("email", self.profile["email_normalized"]))
        found.extend(self.identities.items())  # (service, external id) each
        return found


# Opens the wallets of the customers a batch creates: (row index, wallet uuid, customer uuid).
WalletOpener = Callable[[Connection, list[tuple[int, str, str]]], None]


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """``created``, ``updated``, ``unchanged`` or ``rejected`` (with the API's ``error``)."""

    status: str
    customer_uuid: str | None = None
    wallet_uuid: str | None = None
    error: DomainError | None = None


def clean_import(values: Mapping[str, Any]) -> ImportedCustomer:
    """A row's fields (file column names: ``email``, ``shopify_id``, ...; absent or None: not
    given) through the API's rules, each error naming its column; all are raised together."""
    errors: list[DomainError] = []
    profile_values = {
        IMPORT_FIELDS[name]: value
        for name, value in values.items()
        if name in IMPORT_FIELDS and value is not None
    }
    profile: dict[str, Any] = {}
    try:
        profile = clean_profile(profile_values, field_names=_FIELD_COLUMNS)
    except ValidationErrors as many:
        errors += many.errors
    except DomainError as error:
        errors.append(error)
    external: dict[str, str] = {}
    for column, service in IMPORT_IDENTITIES.items():
        value = values.get(column)
        if value is None:
            continue
        if not isinstance(value, str):
            errors.append(InvalidInput(f"{column} must be a string", field=column))
            continue
        try:
            external[service] = validation.external_id(service, value, field=column)
        except DomainError as error:
            errors.append(error)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ValidationErrors(errors)
    if None in profile.values():  # a field cleaned to nothing is not given
        profile = {key: value for key, value in profile.items() if value is not None}
    return ImportedCustomer(profile=profile, identities=external)


def _owners_by_key(
    connection: Connection, account_id: str, match: str, keys: list[str]
) -> dict[str, list[str]]:
    if not keys:
        return {}
    if match == "shopify":
        query = select(identities.c.external_id, identities.c.customer_uuid).where(
            identities.c.account_id == account_id,
            identities.c.service == "SHOPIFY",
            values_in(connection, identities.c.external_id, keys),
        )
    else:
        column = customers.c.email_normalized if match == "email" else customers.c.source_id
        query = select(column, customers.c.uuid).where(
            customers.c.account_id == account_id, values_in(connection, column, keys)
        )
    found: dict[str, list[str]] = {}
    for key, customer_uuid in connection.execute(query):
        found.setdefault(key, []).append(customer_uuid)
    return found


def _identity_owners(
    connection: Connection, account_id: str, wanted: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """Who holds each (service, external id) of ``wanted`` (sorted, distinct)."""
    if not wanted:
        return {}
    found: dict[tuple[str, str], str] = {}
    for service in sorted({service for service, _ in wanted}):
        externals = [external for named, external in wanted if named == service]
        query = select(identities.c.external_id, identities.c.customer_uuid).where(
            identities.c.account_id == account_id,
            identities.c.service == service,
            values_in(connection, identities.c.external_id, externals),
        )
        for external, customer_uuid in connection.execute(query):
            found[(service, external)] = customer_uuid
    return found


@dataclass
class BatchValues:
    """The unique values a batch's rows hold, as ``import_customers`` looks them up: each
    row's match key ("" for none), the e-mail addresses (normalised, sorted, distinct), the
    identities ((service, external id), sorted, distinct)."""

    keys: list[str]
    emails: list[str]
    identities: list[tuple[str, str]]


def batch_values(rows: Sequence[ImportedCustomer], match: str) -> BatchValues:
    """What ``import_customers`` looks up of ``rows``, matched by ``match``."""
    return BatchValues(
        keys=[row.key(match) or "" for row in rows],
        emails=sorted(
            {row.profile["email_normalized"] for row in rows if row.profile.get("email")}
        ),
        identities=sorted({pair for row in rows for pair in row.identities.items()}),
    )


@dataclass
class _Holders:
    """Who holds a batch's values: the customers each match key names, the owner of each
    e-mail address and of each identity."""

    by_key: dict[str, list[str]]
    emails: dict[str, str]
    identities: dict[tuple[str, str], str]

    def none(self) -> bool:
        return not self.by_key and not self.emails and not self.identities


def _holders(connection: Connection, account_id: str, match: str, values: BatchValues) -> _Holders:
    by_key = _owners_by_key(connection, account_id, match, sorted(set(values.keys) - {""}))
    if match == "email":
        emails = {key: owners[0] for key, owners in by_key.items()}
    else:
        found = _owners_by_key(connection, account_id, "email", values.emails)
        emails = {key: owners[0] for key, owners in found.items()}
    return _Holders(by_key, emails, _identity_owners(connection, account_id, values.identities))


def _current(connection: Connection, account_id: str, uuids: list[str]) -> dict[str, Any]:
    if not uuids:
        return {}
    rows = connection.execute(
        select(customers.c.uuid, *(customers.c[name] for name in _PROFILE_COLUMNS)).where(
            customers.c.account_id == account_id, values_in(connection, customers.c.uuid, uuids)
        )
    ).all()
    return {row.uuid: row for row in rows}


def _current_identities(
    connection: Connection, account_id: str, uuids: list[str]
) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {uuid_: {} for uuid_ in uuids}
    if not uuids:
        return found
    rows = connection.execute(
        select(identities.c.customer_uuid, identities.c.service, identities.c.external_id).where(
            identities.c.account_id == account_id,
            values_in(connection, identities.c.customer_uuid, uuids),
        )
    )
    for customer_uuid, service, external in rows:
        found[customer_uuid][service] = external
    return found


def import_customers(
    connection: Connection,
    principal: Principal,
    rows: Sequence[ImportedCustomer],
    *,
    match: str,
    source: str | None,
    now: datetime,
    open_wallets: WalletOpener | None = None,
) -> list[ImportOutcome]:
    """Upsert a batch by ``match``; the rows' claims are distinct (see ``claims``).

    ``open_wallets`` opens the new customers' wallets, given (row index, wallet uuid,
    customer uuid) of each, after their rows and events are written; by default they open
    empty (an import opens them with their opening balances). A batch built ahead, whose
    rows may all be new, goes to ``create_if_new`` first."""
    from patron.customers.service import _event, taken_error

    _check(principal, match)
    account_id = principal.account_id
    values = batch_values(rows, match)
    keys = values.keys
    holders = _holders(connection, account_id, match, values)
    by_key, email_owners, identity_owners = holders.by_key, holders.emails, holders.identities
    outcomes: list[ImportOutcome | None] = [None] * len(rows)
    matched: dict[int, str] = {}
    new: list[int] = []
    if holders.none():
        new = list(range(len(rows)))  # no one holds any of the batch's values: all are new
        rows_to_check: Sequence[ImportedCustomer] = ()
    else:
        rows_to_check = rows
    for index, row in enumerate(rows_to_check):
        owners = by_key.get(keys[index], [])
        if len(owners) > 1:
            error: DomainError | None = Conflict(
                f"external_id '{keys[index]}' names {len(owners)} contacts", field="external_id"
            )
        else:
            error = taken_error(
                row.profile,
                row.identities,
                owners[0] if owners else None,
                email_owner=email_owners.get,
                loyalty_owner=lambda _: None,
                identity_owner=lambda service, external: identity_owners.get((service, external)),
            )
        if error is not None:
            outcomes[index] = ImportOutcome("rejected", error=_named(error))
        elif owners:
            matched[index] = owners[0]
        else:
            new.append(index)
    created = prepare_created(account_id, rows, new, source, now)
    _create(connection, principal, created, outcomes, now, open_wallets)
    _update(connection, principal, rows, matched, outcomes, now, _event)
    return [outcome or ImportOutcome("rejected") for outcome in outcomes]


def create_if_new(
    connection: Connection,
    principal: Principal,
    values: BatchValues,
    prepared: NewCustomers,
    *,
    match: str,
    now: datetime,
    open_wallets: WalletOpener,
) -> list[ImportOutcome] | None:
    """Write the customers ``prepared`` holds (``prepare_created`` of a whole batch, whose
    rows hold ``values``) if no one in the account holds any of those values: each row's
    outcome, all created. None, with nothing written, if someone does: the caller upserts
    the batch's rows with ``import_customers``."""
    _check(principal, match)
    if not _holders(connection, principal.account_id, match, values).none():
        return None
    outcomes: list[ImportOutcome | None] = [None] * len(prepared.values)
    _create(connection, principal, prepared, outcomes, now, open_wallets)
    return [outcome or ImportOutcome("rejected") for outcome in outcomes]


def _check(principal: Principal, match: str) -> None:
    principal.require("write")
    if match not in MATCHES:
        raise InvalidInput(f"match must be one of {', '.join(MATCHES)}", field="match")


def _named(error: DomainError) -> DomainError:
    """The error with the file's column name for an identity (``shopify_id``)."""
    for column, service in IMPORT_IDENTITIES.items():
        if error.field == f"identities.{service.lower()}Id":
            error.field = column
    return error


# A new customer's row: these columns, in this order (every one, so a batch is one statement).
_NEW_COLUMNS = (
    "account_id",
    "uuid",
    "number",
    *_PROFILE_COLUMNS,
    "source",
    "accepts_marketing",
    "verified",
    "archived",
    "user_type",
    "connected_services",
    "created_at",
    "updated_at",
)
_IDENTITY_COLUMNS = ("account_id", "service", "external_id", "customer_uuid", "created_at")


@dataclass
class NewCustomers:
    """The rows of customers a batch creates, built before their transaction: each one's row
    (``_NEW_COLUMNS``, its number left for the transaction to reserve), its identities'
    rows, and (row index, wallet uuid, customer uuid) of each."""

    values: list[tuple[Any, ...]]
    links: list[tuple[Any, ...]]
    opened: list[tuple[int, str, str]]


_NUMBER_AT = _NEW_COLUMNS.index("number")


def prepare_created(
    account_id: str,
    rows: Sequence[ImportedCustomer],
    new: Sequence[int],
    source: str | None,
    now: datetime,
) -> NewCustomers:
    """The rows of the customers ``new`` names, reading nothing: a bulk import builds them
    for a whole batch in a process of their own while the batch before is written."""
    # Time-ordered: the rows land at the end of each index over a customer's or wallet's uuid.
    uuids = time_ordered_uuids(2 * len(new))
    services: list[str] = []  # a new customer is connected to nothing
    values: list[tuple[Any, ...]] = []
    links: list[tuple[Any, ...]] = []
    opened: list[tuple[int, str, str]] = []
    for position, index in enumerate(new):
        row = rows[index]
        customer_uuid, wallet_uuid = uuids[2 * position], uuids[2 * position + 1]
        profile = row.profile
        values.append(
            (
                account_id,
                customer_uuid,
                None,
                *map(profile.get, _PROFILE_COLUMNS),
                source,
                False,
                False,
                False,
                "CONSUMER",
                services,
                now,
                now,
            )
        )
        for service, external in row.identities.items():
            links.append((account_id, service, external, customer_uuid, now))
        opened.append((index, wallet_uuid, customer_uuid))
    return NewCustomers(values, links, opened)


def _create(
    connection: Connection,
    principal: Principal,
    prepared: NewCustomers,
    outcomes: list[ImportOutcome | None],
    now: datetime,
    open_wallets: WalletOpener | None,
) -> None:
    """Write the customers ``prepared`` holds, each with the next customer number, and open
    their wallets."""
    if not prepared.values:
        return
    account_id = principal.account_id
    numbers = accounts.reserve_customer_numbers(connection, account_id, len(prepared.values))
    values = [
        (*row[:_NUMBER_AT], number, *row[_NUMBER_AT + 1 :])
        for row, number in zip(prepared.values, numbers, strict=True)
    ]
    events: list[tuple[str, str]] = []
    for (index, wallet_uuid, customer_uuid), number in zip(prepared.opened, numbers, strict=True):
        # ``contact_event(customer_uuid, number, [], wallet_uuid)`` as ``json.dumps`` writes it.
        events.append(
            (
                "contact.created",
                f'{{"contact_uuid": "{customer_uuid}", "number": {number}, '
                f'"connected_services": [], "wallet_uuid": "{wallet_uuid}"}}',
            )
        )
        outcomes[index] = ImportOutcome("created", customer_uuid, wallet_uuid)
    insert_tuples(connection, customers, _NEW_COLUMNS, values)
    insert_tuples(connection, identities, _IDENTITY_COLUMNS, prepared.links)
    # Before the wallets': an outbox delivers a contact's creation before its credit.
    record_events(connection, account_id, events, encoded=True)
    if open_wallets is not None:
        open_wallets(connection, prepared.opened)
    else:
        pairs = [(wallet_uuid, customer_uuid) for _, wallet_uuid, customer_uuid in prepared.opened]
        wallets.open_wallets(connection, principal, pairs, now)


def _update(
    connection: Connection,
    principal: Principal,
    rows: Sequence[ImportedCustomer],
    matched: dict[int, str],
    outcomes: list[ImportOutcome | None],
    now: datetime,
    event: Any,
) -> None:
    if not matched:
        return
    account_id = principal.account_id
    uuids = sorted(set(matched.values()))
    current = _current(connection, account_id, uuids)
    linked = _current_identities(connection, account_id, uuids)
    wallet_of = wallets.wallet_uuids_for_customers(connection, principal, uuids)
    events: list[tuple[str, dict[str, Any]]] = []
    for index, customer_uuid in matched.items():
        row = rows[index]
        before = current[customer_uuid]
        changes = {
            name: value for name, value in row.profile.items() if getattr(before, name) != value
        }
        relinks = {
            service: external
            for service, external in row.identities.items()
            if linked[customer_uuid].get(service) != external
        }
        wallet_uuid = wallet_of.get(customer_uuid)
        if not changes and not relinks:
            outcomes[index] = ImportOutcome("unchanged", customer_uuid, wallet_uuid)
            continue
        if changes:
            connection.execute(
                update(customers)
                .where(customers.c.account_id == account_id, customers.c.uuid == customer_uuid)
                .values(**changes, updated_at=now)
            )
        for service, external in relinks.items():
            repository.set_identity(connection, account_id, customer_uuid, service, external, now)
        updated = repository.get_customer(connection, account_id, customer_uuid)
        assert updated is not None
        payload = event(updated)
        payload["changed_fields"] = sorted(
            set(changes) - {"email_normalized"} | {f"identities.{service}" for service in relinks}
        )
        events.append(("contact.updated", payload))
        outcomes[index] = ImportOutcome("updated", customer_uuid, wallet_uuid)
    record_events(connection, account_id, events)
