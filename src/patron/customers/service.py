"""Customer commands and reads. Creating a customer creates its wallet in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Subquery

from patron.accounts import service as accounts
from patron.accounts.principal import Principal
from patron.core import idempotency, throttle
from patron.core.bulk import insert_together
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import Conflict, DomainError, InvalidInput, NotFound
from patron.core.events import event_row, record_audit, record_event
from patron.core.ids import new_uuid
from patron.core.paging import check_page
from patron.core.unit import run_command
from patron.customers import repository, validation
from patron.customers.consumers import repository as consumer_rows
from patron.customers.imports import (
    IMPORT_FIELDS,
    IMPORT_IDENTITIES,
    MATCHES,
    BatchValues,
    ImportedCustomer,
    ImportOutcome,
    NewCustomers,
    WalletOpener,
    batch_values,
    clean_import,
    create_if_new,
    import_customers,
    prepare_created,
)
from patron.customers.models import (
    Customer,
    CustomerChanges,
    CustomerFilter,
    NewCustomer,
    contact_event,
)
from patron.customers.profile import clean_profile
from patron.wallets import service as wallets
from patron.wallets.models import Wallet
from patron.wallets.subqueries import JOINED_WALLET

# Bulk imports (``imports``): cleaned rows upserted a batch at a time in the caller's transaction.
__all__ = [
    "IMPORT_FIELDS",
    "IMPORT_IDENTITIES",
    "MATCHES",
    "BatchValues",
    "ImportOutcome",
    "ImportedCustomer",
    "NewCustomers",
    "WalletOpener",
    "batch_values",
    "clean_import",
    "create_if_new",
    "import_customers",
    "prepare_created",
]


class EmailTaken(Conflict):
    code = "EMAIL_TAKEN"


class IdentityTaken(Conflict):
    code = "IDENTITY_TAKEN"


@dataclass(frozen=True, slots=True)
class CreatedCustomer:
    customer: Customer
    wallet_uuid: str
    # As written, for a customer created by this command (not for a replay): its answer
    # needs no read of its own.
    wallet: Wallet | None = None
    identities: dict[str, str] | None = None


def _no_contact(customer_uuid: str) -> NotFound:
    return NotFound(f"no contact with uuid '{customer_uuid}'", field="uuid")


def _clean_services(services: Sequence[str]) -> list[str]:
    cleaned: list[str] = []
    for service in services:
        value = validation.choice(service, validation.SERVICES, field="connectedServices")
        if value not in cleaned:
            cleaned.append(value)
    return cleaned


def _clean_identities(given: dict[str, str | None]) -> dict[str, str | None]:
    cleaned: dict[str, str | None] = {}
    for service, external in given.items():
        name = validation.choice(service, validation.SERVICES, field="identities")
        cleaned[name] = None if external is None else validation.external_id(name, external)
    return cleaned


def _check_unique(
    connection: Connection,
    principal: Principal,
    profile: dict[str, Any],
    identities: dict[str, str | None],
    customer_uuid: str | None,
) -> None:
    account_id = principal.account_id
    error = taken_error(
        profile,
        identities,
        customer_uuid,
        email_owner=lambda email: repository.customer_uuid_for_email(connection, account_id, email),
        loyalty_owner=lambda loyalty_id: repository.customer_uuid_for_loyalty_id(
            connection, account_id, loyalty_id
        ),
        identity_owner=lambda service, external: repository.identity_owner(
            connection, account_id, service, external
        ),
    )
    if error is not None:
        raise error


def taken_error(
    profile: dict[str, Any],
    identities: Mapping[str, str | None],
    customer_uuid: str | None,
    *,
    email_owner: Callable[[str], str | None],
    loyalty_owner: Callable[[str], str | None],
    identity_owner: Callable[[str, str], str | None],
) -> DomainError | None:
    """The first unique value of a customer that another customer holds, as the error the
    API answers; ``*_owner`` say who holds a value (None: nobody)."""
    if profile.get("email_normalized"):
        owner = email_owner(profile["email_normalized"])
        if owner is not None and owner != customer_uuid:
            return EmailTaken(
                f"email '{profile['email']}' is already used by another contact", field="email"
            )
    if profile.get("loyalty_id"):
        owner = loyalty_owner(profile["loyalty_id"])
        if owner is not None and owner != customer_uuid:
            return Conflict(
                f"loyaltyId '{profile['loyalty_id']}' is already used by another contact",
                field="loyaltyId",
            )
    for service, external in identities.items():
        if external is None:
            continue
        owner = identity_owner(service, external)
        if owner is not None and owner != customer_uuid:
            return IdentityTaken(
                f"{service.lower()} id '{validation.display_external_id(service, external)}' "
                "is already linked to another contact",
                field=f"identities.{service.lower()}Id",
            )
    return None


def _event(customer: Customer, wallet_uuid: str | None = None) -> dict[str, Any]:
    return contact_event(customer.uuid, customer.number, customer.connected_services, wallet_uuid)


def create_customer(
    db: Database,
    principal: Principal,
    command: NewCustomer,
    *,
    idempotency_key: str | None = None,
) -> CreatedCustomer:
    """A new customer with its wallet, identities, outbox event; all or nothing."""
    principal.require("write")
    profile = clean_profile(command.profile)
    identities = _clean_identities(dict(command.identities))
    services = _clean_services(command.connected_services)
    key = idempotency.validate_key(idempotency_key)
    operation = "create_customer"
    digest = idempotency.fingerprint(
        operation, {"profile": profile, "identities": identities, "services": services}
    )

    attempts = 0

    def write(connection: Connection) -> CreatedCustomer:
        # The first attempt leaves the unique values (email, loyalty id, external ids) to
        # the store's constraints: a clash is a unique violation, after which the command
        # runs again (see ``run_command``) and its checks name the value that is taken.
        # Two reads fewer for every contact that takes nothing.
        nonlocal attempts
        attempts += 1
        if key is not None:
            stored = idempotency.find_result(
                connection, principal.account_id, key, operation, digest
            )
            if stored is not None:
                existing = repository.get_customer(connection, principal.account_id, stored["uuid"])
                if existing is None:
                    raise NotFound("the contact created with this idempotencyKey was deleted")
                return CreatedCustomer(customer=existing, wallet_uuid=stored["wallet_uuid"])
        created = _insert(
            connection, principal, profile, identities, services, command, check=attempts > 1
        )
        if key is not None:
            idempotency.store_result(
                connection,
                principal.account_id,
                key,
                operation,
                digest,
                {"uuid": created.customer.uuid, "wallet_uuid": created.wallet_uuid},
            )
        return created

    return run_command(db, write)


def add_customer(
    connection: Connection, principal: Principal, command: NewCustomer
) -> CreatedCustomer:
    """``create_customer`` inside a caller's transaction, for commands that do more with it."""
    principal.require("write")
    profile = clean_profile(command.profile)
    identities = _clean_identities(dict(command.identities))
    services = _clean_services(command.connected_services)
    return _insert(connection, principal, profile, identities, services, command)


def _insert(
    connection: Connection,
    principal: Principal,
    profile: dict[str, Any],
    identities: dict[str, str | None],
    services: list[str],
    command: NewCustomer,
    *,
    check: bool = True,
) -> CreatedCustomer:
    if check:
        _check_unique(connection, principal, profile, identities, None)
    now = utcnow()
    customer_uuid = new_uuid()
    wallet_uuid = new_uuid()
    values: dict[str, Any] = {
        "account_id": principal.account_id,
        "uuid": customer_uuid,
        "number": accounts.next_customer_number(connection, principal.account_id),
        "accepts_marketing": False,
        "verified": False,
        "archived": False,
        "user_type": "CONSUMER",
        **profile,
        "connected_services": services,
        "password_hash": command.password_hash,
        "created_at": now,
        "updated_at": now,
    }
    values["archived_at"] = now if values["archived"] else None
    linked = {service: external for service, external in identities.items() if external}
    wallet, wallet_row = wallets.opening_wallet(principal, wallet_uuid, customer_uuid, now)
    customer = repository.customer_from_values(values)
    # The customer, its ids, its wallet and its event: one statement on PostgreSQL.
    insert_together(
        connection,
        [
            repository.customer_row(values),
            *repository.identity_rows(principal.account_id, customer_uuid, linked, now),
            wallet_row,
            event_row(principal.account_id, "contact.created", _event(customer, wallet_uuid)),
        ],
    )
    shown = {
        service: validation.display_external_id(service, ext) for service, ext in linked.items()
    }
    return CreatedCustomer(
        customer=customer, wallet_uuid=wallet_uuid, wallet=wallet, identities=shown
    )


@dataclass(frozen=True, slots=True)
class UpsertedCustomer:
    customer: Customer
    created: bool


class MatchConflict(Conflict):
    code = "MATCH_CONFLICT"


def _match(
    connection: Connection,
    principal: Principal,
    profile: dict[str, Any],
    identities: dict[str, str | None],
) -> str | None:
    """The one customer the given email or external ids name, or None; refused when they name
    two different customers."""
    found: dict[str, str] = {}
    account_id = principal.account_id
    for service, external in identities.items():
        if external is None:
            continue
        owner = repository.identity_owner(connection, account_id, service, external)
        if owner is not None:
            found.setdefault(owner, f"identities.{service.lower()}Id")
    if profile.get("email_normalized"):
        owner = repository.customer_uuid_for_email(
            connection, account_id, profile["email_normalized"]
        )
        if owner is not None:
            found.setdefault(owner, "email")
    if len(found) > 1:
        fields = sorted(found.values())
        raise MatchConflict(
            f"{' and '.join(fields)} name different contacts; upsert matches one contact only",
            field=fields[0],
        )
    return next(iter(found), None)


def _unchanged(
    connection: Connection,
    principal: Principal,
    current: Customer,
    profile: dict[str, Any],
    identities: dict[str, str | None],
    services: list[str] | None,
) -> bool:
    for name, value in profile.items():
        if name != "email_normalized" and getattr(current, name, None) != value:
            return False
    if services is not None and services != current.connected_services:
        return False
    for service, external in identities.items():
        owner = (
            repository.identity_owner(connection, principal.account_id, service, external)
            if external is not None
            else None
        )
        if external is not None and owner != current.uuid:
            return False
        if external is None and service in repository.identities_for(
            connection, principal.account_id, [current.uuid]
        ).get(current.uuid, {}):
            return False
    return True


def upsert_customer(
    db: Database, principal: Principal, changes: CustomerChanges
) -> UpsertedCustomer:
    """The customer the given email or external ids name, changed to the given fields (only
    those, as ``update_customer`` does); a new one with its wallet when none matches.
    Idempotent: the same command again finds the same customer and, with nothing left to
    change, writes nothing (no event, ``updatedAt`` kept)."""
    principal.require("write")
    profile = clean_profile(changes.profile)
    identities = _clean_identities(dict(changes.identities))
    services = (
        _clean_services(changes.connected_services)
        if changes.connected_services is not None
        else None
    )
    if not profile.get("email_normalized") and not any(identities.values()):
        raise InvalidInput(
            "an upsert needs an email or an external id to match a contact by", field="email"
        )

    def write(connection: Connection) -> UpsertedCustomer:
        owner = _match(connection, principal, profile, identities)
        if owner is None:
            fresh = clean_profile(
                {name: value for name, value in changes.profile.items() if value is not None}
            )
            linked: dict[str, str | None] = {s: ext for s, ext in identities.items() if ext}
            created = _insert(connection, principal, fresh, linked, services or [], NewCustomer())
            return UpsertedCustomer(customer=created.customer, created=True)
        current = repository.get_customer(
            connection,
            principal.account_id,
            owner,
            for_update=connection.dialect.name != "sqlite",
        )
        assert current is not None
        if _unchanged(connection, principal, current, profile, identities, services):
            return UpsertedCustomer(customer=current, created=False)
        return UpsertedCustomer(
            customer=change_customer(connection, principal, owner, changes), created=False
        )

    return run_command(db, write)


def update_customer(
    db: Database, principal: Principal, customer_uuid: str, changes: CustomerChanges
) -> Customer:
    """Change only the fields given; the same uniqueness rules as on create."""
    principal.require("write")
    if not validation.is_uuid(customer_uuid):
        raise _no_contact(customer_uuid)
    return run_command(
        db, lambda connection: change_customer(connection, principal, customer_uuid, changes)
    )


def change_customer(
    connection: Connection, principal: Principal, customer_uuid: str, changes: CustomerChanges
) -> Customer:
    """``update_customer`` inside a transaction the caller owns (with other writes of its
    command); the caller has checked the scope."""
    profile = clean_profile(changes.profile)
    identities = _clean_identities(dict(changes.identities))
    services = (
        _clean_services(changes.connected_services)
        if changes.connected_services is not None
        else None
    )
    current = repository.get_customer(
        connection,
        principal.account_id,
        customer_uuid,
        for_update=connection.dialect.name != "sqlite",
    )
    if current is None:
        raise _no_contact(customer_uuid)
    _check_unique(connection, principal, profile, identities, customer_uuid)
    now = utcnow()
    values: dict[str, Any] = {**profile, "updated_at": now}
    if "archived" in profile and profile["archived"] != current.archived:
        values["archived_at"] = now if profile["archived"] else None
    if services is not None:
        values["connected_services"] = services
    repository.update_customer(connection, principal.account_id, customer_uuid, values)
    for service, external in identities.items():
        repository.set_identity(
            connection, principal.account_id, customer_uuid, service, external, now
        )
    updated = repository.get_customer(connection, principal.account_id, customer_uuid)
    assert updated is not None
    changed = sorted(set(profile) - {"email_normalized"} | {f"identities.{s}" for s in identities})
    payload = _event(updated)
    payload["changed_fields"] = changed
    record_event(connection, principal.account_id, "contact.updated", payload)
    return updated


class HasLedgerHistory(Conflict):
    code = "CONTACT_HAS_HISTORY"


@dataclass(frozen=True, slots=True)
class ErasedCustomer:
    """A customer just erased, with what the erasure needs to tell other systems."""

    uuid: str
    number: int
    # External ids as they were (display form: a Shopify GID), for the vendors' redaction.
    identities: dict[str, str]


def delete_customer(db: Database, principal: Principal, customer_uuid: str) -> None:
    """Remove a customer without ledger history, with its wallet and identities, as the seed
    documents. One with credit entries is refused (HasLedgerHistory): deleting it would
    destroy the books; erasure is the way for those."""
    principal.require("write")
    if not validation.is_uuid(customer_uuid):
        raise _no_contact(customer_uuid)

    def write(connection: Connection) -> None:
        if not remove_customer(connection, principal, customer_uuid):
            raise HasLedgerHistory(
                f"contact '{customer_uuid}' has credit entries: deleting it would destroy "
                "the books; erase it instead (eraseContact), which blanks the person and "
                "keeps the ledger",
                field="uuid",
            )

    run_command(db, write)


def remove_customer(connection: Connection, principal: Principal, customer_uuid: str) -> bool:
    """Inside the caller's transaction: delete the customer if its wallet has no entries
    (True); False, writing nothing, when it has some. NotFound when there is none."""
    if not validation.is_uuid(customer_uuid):
        raise _no_contact(customer_uuid)
    current = repository.get_customer(
        connection,
        principal.account_id,
        customer_uuid,
        for_update=connection.dialect.name != "sqlite",
    )
    if current is None:
        raise _no_contact(customer_uuid)
    # Locked, so that no entry lands between this look and the delete.
    wallet = wallets.lock_wallet_of(connection, principal, customer_uuid)
    if wallet is not None and wallet.entry_count > 0:
        return False
    repository.delete_customer(connection, principal.account_id, customer_uuid)
    record_event(
        connection,
        principal.account_id,
        "contact.deleted",
        {"contact_uuid": customer_uuid, "number": current.number},
    )
    record_audit(
        connection,
        principal.account_id,
        action="contact.deleted",
        subject_type="contact",
        subject_uuid=customer_uuid,
        actor=principal.actor,
        actor_name=principal.actor_name,
        details={"number": current.number},
    )
    return True


def erase_customer(
    connection: Connection, principal: Principal, customer_uuid: str, now: datetime
) -> ErasedCustomer:
    """Inside the caller's transaction: blank every personal field of the customer for good,
    delete its identities and consumer credentials, and mark it erased; its row, uuid and
    number stay for the books. NotFound when there is none (or it is erased already)."""
    if not validation.is_uuid(customer_uuid):
        raise _no_contact(customer_uuid)
    current = repository.get_customer(
        connection,
        principal.account_id,
        customer_uuid,
        for_update=connection.dialect.name != "sqlite",
    )
    if current is None:
        raise _no_contact(customer_uuid)
    linked = repository.identities_for(connection, principal.account_id, [customer_uuid])
    emails = [email for email in (current.email, current.secondary_email) if email]
    consumer_rows.forget(
        connection,
        principal.account_id,
        customer_uuid,
        [throttle.email_subject(email) for email in emails],
    )
    repository.erase_customer(connection, principal.account_id, customer_uuid, now)
    return ErasedCustomer(customer_uuid, current.number, linked.get(customer_uuid, {}))


def customer_record(
    connection: Connection, principal: Principal, customer_uuid: str
) -> tuple[Customer, dict[str, str], bool] | None:
    """The customer, its external ids and whether it has a password: for subject access."""
    if not validation.is_uuid(customer_uuid):
        return None
    found = repository.get_customer(connection, principal.account_id, customer_uuid)
    if found is None:
        return None
    linked = repository.identities_for(connection, principal.account_id, [customer_uuid])
    has_password = repository.has_password(connection, principal.account_id, customer_uuid)
    return found, linked.get(customer_uuid, {}), has_password


def find_customers(
    connection: Connection,
    principal: Principal,
    *,
    limit: int | None = None,
    offset: int | None = None,
    uuid: str | None = None,
    email: str | None = None,
    shopify_id: str | None = None,
) -> list[Customer]:
    """Newest first; filters narrow, a malformed Shopify id is an error."""
    size, start = check_page(limit, offset)
    where = _page_filter(uuid, email, shopify_id)
    if where is None:
        return []
    return repository.find_customers(
        connection, principal.account_id, where, limit=size, offset=start
    )


def _page_filter(
    uuid: str | None, email: str | None, shopify_id: str | None
) -> CustomerFilter | None:
    """A page's filters, checked; None when they cannot match a stored contact."""
    where = CustomerFilter(
        uuid=uuid,
        email=validation.normalised_email(email) if email is not None else None,
        shopify_id=validation.external_id("SHOPIFY", shopify_id, field="shopifyId")
        if shopify_id is not None
        else None,
    )
    if (uuid is not None and not validation.is_uuid(uuid)) or (email and "\x00" in email):
        return None
    return where


def find_customer_values(
    connection: Connection,
    principal: Principal,
    names: tuple[str, ...],
    *,
    limit: int | None = None,
    offset: int | None = None,
    uuid: str | None = None,
    email: str | None = None,
    shopify_id: str | None = None,
) -> list[Any]:
    """``find_customers`` (the same filters, order and errors) reading only the named
    columns (``PROJECTABLE``): per customer a named tuple with the model's attribute names.
    Names with ``JOINED_WALLET.PREFIX`` are the stored columns of each customer's open wallet,
    read by the same statement (``wallets.joined_wallet_values`` makes them wallets)."""
    size, start = check_page(limit, offset)
    where = _page_filter(uuid, email, shopify_id)
    if where is None:
        return []
    joined = JOINED_WALLET if any(name.startswith(WALLET_PREFIX) for name in names) else None
    return repository.find_customer_values(
        connection,
        principal.account_id,
        where,
        limit=size,
        offset=start,
        names=names,
        joined=joined,
    )


PROJECTABLE = repository.PROJECTABLE
WALLET_PREFIX = JOINED_WALLET.PREFIX


def identities_for(
    connection: Connection, principal: Principal, customer_uuids: Sequence[str]
) -> dict[str, dict[str, str]]:
    return repository.identities_for(connection, principal.account_id, customer_uuids)


def count_customers(connection: Connection, principal: Principal) -> int:
    return repository.count_customers(connection, principal.account_id)


def identity_ids(principal: Principal, service: str) -> Subquery:
    """(customer_uuid, external_id) of the account's customers with an id at ``service``: for
    another domain to join into one statement of its own."""
    return repository.identity_ids(principal.account_id, service)


def customer_in_account(
    connection: Connection, account_id: str, customer_uuid: str
) -> Customer | None:
    """The account's customer with this uuid, for callers that have no principal yet (a
    consumer logging in or presenting a token); None when there is none."""
    return repository.get_customer(connection, account_id, customer_uuid)


def refresh_statistics(connection: Connection) -> None:
    """After a bulk import's first batches: the planner's figures of the customer tables."""
    from patron.core.bulk import analyze
    from patron.customers.tables import customers as table
    from patron.customers.tables import identities

    analyze(connection, table, identities)


EXPORT_BATCH = 5000


def export_customers(
    connection: Connection,
    principal: Principal,
    columns: Sequence[str],
    *,
    since: datetime | None,
    balances_only: bool,
) -> Iterator[Sequence[Any]]:
    """Every customer of the account by number, streamed in batches (a server-side cursor on
    PostgreSQL): the values of ``columns`` (an import's column names: profile fields,
    ``shopify_id`` and the other external ids in display form, ``external_id``, and
    ``global_balance`` and ``local_balance``, the wallet's ledger balances in smallest units)
    in that order. ``since``: changed since then (its profile, or with ``balances_only`` its
    wallet)."""
    from sqlalchemy import func, select

    from patron.customers.tables import customers as table
    from patron.customers.tables import identities
    from patron.wallets import subqueries as wallet_figures

    account_id = principal.account_id
    figures = wallet_figures.wallet_figures(account_id)
    joined: Any = table.outerjoin(figures, figures.c.customer_uuid == table.c.uuid)
    available: dict[str, Any] = {
        "email": table.c.email,
        "name": table.c.name,
        "first_name": table.c.first_name,
        "last_name": table.c.last_name,
        "phone": table.c.phone,
        "birthday": table.c.birthday,
        "external_id": table.c.source_id,
        "note": table.c.notes,
        "global_balance": func.coalesce(figures.c.global_balance, 0),
        "local_balance": func.coalesce(figures.c.local_balance, 0),
    }
    displayed: list[tuple[int, str]] = []
    for column, service in IMPORT_IDENTITIES.items():
        if column not in columns:
            continue
        alias = identities.alias(f"identity_{service.lower()}")
        joined = joined.outerjoin(
            alias,
            (alias.c.account_id == table.c.account_id)
            & (alias.c.customer_uuid == table.c.uuid)
            & (alias.c.service == service),
        )
        available[column] = alias.c.external_id
        displayed.append((list(columns).index(column), service))
    unknown = [name for name in columns if name not in available]
    if unknown:
        raise InvalidInput(f"no contact column '{unknown[0]}' to export", field="columns")
    query = (
        select(*(available[name].label(name) for name in columns))
        .select_from(joined)
        .where(table.c.account_id == account_id)
        .order_by(table.c.number)
    )
    if since is not None:
        changed = figures.c.updated_at if balances_only else table.c.updated_at
        query = query.where(changed >= since)
    result = connection.execution_options(yield_per=EXPORT_BATCH).execute(query)
    for batch in result.partitions():
        if not displayed:
            yield from batch
            continue
        for row in batch:
            values = list(row)
            for index, service in displayed:
                if values[index] is not None:
                    values[index] = validation.display_external_id(service, values[index])
            yield values
