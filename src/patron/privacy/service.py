"""Erasure and subject access: forgetting a person while keeping the books, and handing out
everything Patron holds about one.

Erasing a customer blanks every personal field for good, deletes its identities, consumer
credentials and contact persons, cancels its unused redemption codes and closes its wallet;
the wallet, its entries, lots and orders stay, pointing at the anonymous row, so balances,
liability and ``patron ledger verify`` are unchanged. No surface reads the customer again,
and no request writes to it.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Connection

from patron.accounts import settings as account_settings
from patron.accounts.principal import Principal
from patron.audit import service as audit
from patron.contact_persons import service as contact_persons
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import Forbidden, NotFound
from patron.core.events import record_audit, record_event
from patron.core.ids import is_uuid
from patron.core.money import from_minor
from patron.core.unit import run_command
from patron.customers import service as customers
from patron.customers.consumers import service as consumers
from patron.orders import service as orders
from patron.redemptions import service as redemptions
from patron.wallets import service as wallets
from patron.wallets.models import CreditType

EXPORT_FORMAT = "patron.contact-export/1"
# Outbox events asking another system to forget the person, sent by the worker.
SHOPIFY_ERASURE = "shopify.customer_erasure"
KLAVIYO_DELETION = "klaviyo.profile_deletion"


@dataclasses.dataclass(frozen=True, slots=True)
class Erasure:
    contact_uuid: str
    wallet_uuid: str | None
    codes_cancelled: int
    contact_persons_deleted: int


def _no_contact(customer_uuid: str) -> NotFound:
    return NotFound(f"no contact with uuid '{customer_uuid}'", field="uuid")


def erase_contact(db: Database, principal: Principal, customer_uuid: str) -> Erasure:
    """Erase a customer (admin scope): irreversible; the books stay whole."""
    principal.require("admin")
    if not is_uuid(customer_uuid):
        raise _no_contact(customer_uuid)
    return run_command(db, lambda connection: _erase(connection, principal, customer_uuid))


def remove_or_erase(db: Database, principal: Principal, customer_uuid: str) -> str:
    """What a delete of a person does where the API has no separate erasure (the dialects):
    a customer without ledger history is deleted ("deleted", write scope); one with history
    is erased ("erased"), which needs the admin scope, since it cannot be undone and the books
    keep its wallet."""
    principal.require("write")
    if not is_uuid(customer_uuid):
        raise _no_contact(customer_uuid)

    def write(connection: Connection) -> str:
        if customers.remove_customer(connection, principal, customer_uuid):
            return "deleted"
        if not principal.can("admin"):
            raise Forbidden(
                f"contact '{customer_uuid}' has credit entries, so deleting it erases the "
                f"person and keeps the books, which needs the 'admin' scope; this token has "
                f"'{principal.scope}'",
                code="FORBIDDEN",
            )
        _erase(connection, principal, customer_uuid)
        return "erased"

    return run_command(db, write)


def _erase(connection: Connection, principal: Principal, customer_uuid: str) -> Erasure:
    now = utcnow()
    account_id = principal.account_id
    erased = customers.erase_customer(connection, principal, customer_uuid, now)
    wallet = wallets.lock_wallet_of(connection, principal, customer_uuid)
    cancelled = 0
    if wallet is not None:
        # Holds are released while the wallet still takes moves; then it is closed.
        cancelled = redemptions.close_codes_of_wallet(connection, principal, wallet.uuid, now)
        wallets.close_wallet(connection, principal, customer_uuid, now)
    deleted = contact_persons.forget_customer(connection, principal, customer_uuid)
    wallet_uuid = wallet.uuid if wallet is not None else None
    record_event(
        connection,
        account_id,
        "contact.erased",
        {"contact_uuid": customer_uuid, "number": erased.number, "wallet_uuid": wallet_uuid},
    )
    _ask_vendors_to_forget(connection, principal, customer_uuid, erased.identities)
    record_audit(
        connection,
        account_id,
        action="contact.erased",
        subject_type="contact",
        subject_uuid=customer_uuid,
        actor=principal.actor,
        actor_name=principal.actor_name,
        details={
            "number": erased.number,
            "wallet_uuid": wallet_uuid,
            "entries_kept": wallet.entry_count if wallet is not None else 0,
            "codes_cancelled": cancelled,
            "contact_persons_deleted": deleted,
        },
    )
    return Erasure(customer_uuid, wallet_uuid, cancelled, deleted)


def _ask_vendors_to_forget(
    connection: Connection, principal: Principal, customer_uuid: str, linked: dict[str, str]
) -> None:
    """Queue the connected vendors' own erasure of the person, for the worker to send."""
    settings = account_settings.current(connection, principal.account_id)
    if linked.get("SHOPIFY") and settings.get(account_settings.SHOPIFY):
        record_event(
            connection,
            principal.account_id,
            SHOPIFY_ERASURE,
            {"contact_uuid": customer_uuid, "customer_id": linked["SHOPIFY"]},
        )
    if linked.get("KLAVIYO") and settings.get(account_settings.KLAVIYO):
        record_event(
            connection,
            principal.account_id,
            KLAVIYO_DELETION,
            {"contact_uuid": customer_uuid, "profile_id": linked["KLAVIYO"]},
        )


# Subject access


def export_contact_data(db: Database, principal: Principal, customer_uuid: str) -> dict[str, Any]:
    """Everything Patron holds about one person, as JSON values (admin scope); the export
    itself is recorded in the audit trail. Secrets (password hash, tokens) are left out."""
    principal.require("admin")
    if not is_uuid(customer_uuid):
        raise _no_contact(customer_uuid)

    def write(connection: Connection) -> dict[str, Any]:
        exported = _gather(connection, principal, customer_uuid)
        record_audit(
            connection,
            principal.account_id,
            action="contact.exported",
            subject_type="contact",
            subject_uuid=customer_uuid,
            actor=principal.actor,
            actor_name=principal.actor_name,
        )
        return exported

    return run_command(db, write)


def _plain(value: Any) -> Any:
    """A JSON value of a core value: dataclasses by field, dates in ISO 8601, enums by name."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum | Decimal):
        return value.value if isinstance(value, Enum) else str(value)
    return value


def _amounts(
    principal: Principal, credit_type: CreditType, found: dict[str, Any], *names: str
) -> None:
    places = (
        principal.currency_precision
        if credit_type is CreditType.GLOBAL
        else principal.points_precision
    )
    for name in names:
        if found.get(name) is not None:
            found[name] = str(from_minor(found[name], places))


def _wallet_part(
    connection: Connection, principal: Principal, customer_uuid: str
) -> tuple[dict[str, Any] | None, dict[str, list[dict[str, Any]]]]:
    """The wallet with its balances, and its entries, lots and codes, amounts as decimals."""
    held = wallets.wallet_record(connection, principal, customer_uuid)
    parts: dict[str, list[dict[str, Any]]] = {
        "credit_entries": [],
        "credit_lots": [],
        "redemption_codes": [],
    }
    if held is None:
        return None, parts
    found, found_entries, found_lots = held
    wallet = _plain(found)
    for credit_type, prefix in ((CreditType.GLOBAL, "global"), (CreditType.LOCAL, "local")):
        _amounts(principal, credit_type, wallet, f"{prefix}_balance", f"{prefix}_held")
        _amounts(principal, credit_type, wallet, f"{prefix}_expired")
    _amounts(principal, CreditType.GLOBAL, wallet, "shopify_balance")
    for entry in found_entries:
        plain = _plain(entry)
        _amounts(principal, entry.credit_type, plain, "amount", "balance_after")
        parts["credit_entries"].append(plain)
    for lot in found_lots:
        plain = _plain(lot)
        _amounts(principal, lot.credit_type, plain, "amount", "remaining")
        parts["credit_lots"].append(plain)
    for code in redemptions.codes_of_wallet(connection, principal, found.uuid):
        plain = _plain(code)
        plain["amount"] = str(redemptions.reward_value(principal, code))
        parts["redemption_codes"].append(plain)
    return wallet, parts


def _orders_part(
    connection: Connection, principal: Principal, customer_uuid: str
) -> list[dict[str, Any]]:
    """Every order of the customer with its refunds, amounts as decimals."""
    bought = orders.orders_for_customers(
        connection, principal, [customer_uuid], limit=1_000_000, offset=0
    ).get(customer_uuid, [])
    refunds = orders.refunds_for_orders(connection, principal, [order.uuid for order in bought])
    money = ("total", "refunded", "credit_paid", "credit_returned", "amount")
    points = ("points_earned", "points_clawed_back", "clawback_shortfall")
    rows = []
    for order in bought:
        plain = _plain(order)
        plain["refunds"] = [_plain(refund) for refund in refunds.get(order.uuid, [])]
        for part in (plain, *plain["refunds"]):
            _amounts(principal, CreditType.GLOBAL, part, *money)
            _amounts(principal, CreditType.LOCAL, part, *points)
        rows.append(plain)
    return rows


def _gather(connection: Connection, principal: Principal, customer_uuid: str) -> dict[str, Any]:
    record = customers.customer_record(connection, principal, customer_uuid)
    if record is None:
        raise _no_contact(customer_uuid)
    customer, linked, has_password = record
    consumer = consumers.profiles_for(connection, principal, [customer_uuid])[customer_uuid]
    profile = _plain(consumer)
    profile["has_password"] = has_password
    wallet, parts = _wallet_part(connection, principal, customer_uuid)
    subjects = [customer_uuid] if wallet is None else [customer_uuid, wallet["uuid"]]
    return {
        "format": EXPORT_FORMAT,
        "exported_at": utcnow().isoformat(),
        "account_uuid": principal.account_id,
        "contact": _plain(customer),
        "identities": dict(linked),
        "consumer": profile,
        "wallet": wallet,
        **parts,
        "orders": _orders_part(connection, principal, customer_uuid),
        "contact_persons": _plain(
            contact_persons.contact_persons_of(connection, principal, customer_uuid)
        ),
        "audit_events": _plain(audit.events_about(connection, principal, subjects)),
    }
