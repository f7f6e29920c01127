"""Contacts with KLAVIYO among their connected services are upserted as Klaviyo profiles.

Klaviyo's ``POST /api/profile-import`` creates or updates a profile (matched on email, phone
or external id) and answers with its id, which is stored as the contact's Klaviyo identity.
With ``send_balances`` on, the wallet's balances travel as profile properties
(``patron_store_credit``, ``patron_loyalty_points``, ``patron_currency``), sent again after
every credit entry: each upsert carries the balances as they are when it is sent, so one
that arrives late never leaves an older balance behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from patron.accounts import service as accounts
from patron.accounts import settings as account_settings
from patron.accounts.principal import Principal
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import DomainError, NotFound
from patron.core.ids import is_uuid
from patron.core.money import from_minor
from patron.core.sealing import CannotUnseal, seal, unseal
from patron.customers import service as customers
from patron.customers.models import Customer, CustomerChanges
from patron.integrations.accounts import AccountCache
from patron.integrations.outbox.dispatcher import Dead, Delivered, Outcome, Retry
from patron.integrations.outbox.store import OutboxEvent
from patron.integrations.waits import retry_after
from patron.privacy.service import KLAVIYO_DELETION
from patron.wallets import service as wallets
from patron.wallets.models import CreditType, Wallet

REVISION = "2024-10-15"
SETTINGS_KEY = account_settings.KLAVIYO
DEFAULT_BASE = "https://a.klaviyo.com"
_EVENTS = frozenset({"contact.created", "contact.updated"})
_WALLET_EVENTS = frozenset(
    {
        "wallet.credit_added",
        "wallet.credit_spent",
        "wallet.credit_removed",
        "wallet.credit_converted",
    }
)
JSON_API = "application/vnd.api+json"


@dataclass(frozen=True, slots=True)
class KlaviyoConnection:
    api_key: str
    api_base: str | None = None  # only an operator sets it: a proxy or a test
    send_balances: bool = False  # the wallet's balances as profile properties

    @property
    def endpoint(self) -> str:
        return f"{(self.api_base or DEFAULT_BASE).rstrip('/')}/api/profile-import"

    @property
    def deletion_endpoint(self) -> str:
        return f"{(self.api_base or DEFAULT_BASE).rstrip('/')}/api/data-privacy-deletion-jobs"

    def as_setting(self, secret_key: str | None) -> dict[str, Any]:
        """What the account's settings keep: the key sealed when there is a secret key."""
        value: dict[str, Any] = {"api_key": seal(self.api_key, secret_key)}
        if self.api_base:
            value["api_base"] = self.api_base
        if self.send_balances:
            value["send_balances"] = True
        return value


def connection_from_settings(
    settings: dict[str, Any], secret_key: str | None
) -> KlaviyoConnection | None:
    """The account's connection, None without one; CannotUnseal when its key won't open."""
    value = settings.get(SETTINGS_KEY)
    if not isinstance(value, dict) or not value.get("api_key"):
        return None
    base = value.get("api_base")
    return KlaviyoConnection(
        unseal(str(value["api_key"]), secret_key),
        str(base) if base else None,
        value.get("send_balances") is True,
    )


def balance_properties(principal: Principal, wallet: Wallet) -> dict[str, Any]:
    """What can be spent now, as numbers Klaviyo can segment on.

    JSON numbers: the exact decimal goes out through ``float`` only to be written, which is
    exact for every amount Patron holds (at most 15 significant digits)."""
    store_credit = from_minor(wallet.available(CreditType.GLOBAL), principal.currency_precision)
    points = from_minor(wallet.available(CreditType.LOCAL), principal.points_precision)
    return {
        "patron_store_credit": float(store_credit),
        "patron_loyalty_points": float(points) if principal.points_precision else int(points),
        "patron_currency": principal.currency,
    }


def profile_document(
    contact: Customer, klaviyo_id: str | None, properties: dict[str, Any] | None = None
) -> dict[str, Any]:
    given = {
        "email": contact.email,
        "phone_number": contact.phone,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "external_id": contact.uuid,
    }
    data: dict[str, Any] = {
        "type": "profile",
        "attributes": {key: value for key, value in given.items() if value},
    }
    if properties:
        data["attributes"]["properties"] = properties
    if klaviyo_id:
        data["id"] = klaviyo_id
    return {"data": data}


def _profile_id(response: httpx.Response) -> str | Outcome:
    """The profile id of an answer, or the outcome its failure calls for."""
    status = response.status_code
    if status in (401, 403):
        return Dead(f"Klaviyo refused the API key (HTTP {status})")
    if status == 429 or status >= 500:
        wait = retry_after(response.headers.get("retry-after")) if status in (429, 503) else None
        return Retry(f"Klaviyo answered HTTP {status}", wait)
    try:
        body = response.json()
    except json.JSONDecodeError:
        return Retry(f"Klaviyo sent a malformed (non-JSON) answer (HTTP {status})")
    if status not in (200, 201):
        errors = body.get("errors") if isinstance(body, dict) else None
        details = [str(error.get("detail")) for error in errors or [] if isinstance(error, dict)]
        return Dead(f"Klaviyo refused the profile (HTTP {status}): {'; '.join(details)}"[:500])
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        return Retry("Klaviyo sent an answer without a profile id")
    return str(data["id"])


@dataclass
class KlaviyoProfileSync:
    """An outbox handler for contact.created / contact.updated, wallet events (balances), and
    the deletion of the profile of a customer Patron has erased."""

    db: Database
    client: httpx.Client
    secret_key: str | None = None  # opens the sealed API key
    account_cache: AccountCache | None = None  # shared by the worker's handlers
    known: AccountCache = field(init=False)

    def __post_init__(self) -> None:
        self.known = self.account_cache or AccountCache(self.db)

    def __call__(self, event: OutboxEvent, last_attempt: bool) -> Outcome:
        if event.event_type == KLAVIYO_DELETION:
            return self._delete(event)
        connected = self._connected(event)
        if not isinstance(connected, tuple):
            return connected
        connection, principal = connected
        found = self._profile(principal, event.payload, with_balances=connection.send_balances)
        if found is None:
            return Delivered()  # deleted since, or not a Klaviyo contact
        contact, known, properties = found
        profile_id = self._upsert(connection, contact, known, properties)
        if isinstance(profile_id, str) and profile_id != known:
            return _link(self.db, principal, contact.uuid, profile_id)
        return Delivered() if isinstance(profile_id, str) else profile_id

    def _delete(self, event: OutboxEvent) -> Outcome:
        """Ask Klaviyo to delete the profile (its Data Privacy API: a GDPR deletion)."""
        account = self.known.get(event.account_id)
        if account is None:
            return Delivered()
        try:
            connection = connection_from_settings(account.settings, self.secret_key)
        except CannotUnseal as error:
            return Dead(f"the Klaviyo key cannot be read: {error.message}")
        if connection is None:
            return Dead("the account has no Klaviyo connection (patron klaviyo connect)")
        profile = {"type": "profile", "id": str(event.payload.get("profile_id")), "attributes": {}}
        document = {
            "data": {
                "type": "data-privacy-deletion-job",
                "attributes": {"profile": {"data": profile}},
            }
        }
        try:
            response = self.client.post(
                connection.deletion_endpoint,
                json=document,
                headers={
                    "Authorization": f"Klaviyo-API-Key {connection.api_key}",
                    "revision": REVISION,
                    "accept": JSON_API,
                    "content-type": JSON_API,
                },
            )
        except httpx.TimeoutException as error:
            return Retry(f"Klaviyo timed out: {type(error).__name__}")
        except httpx.HTTPError as error:
            return Retry(f"Klaviyo unreachable: {error}")
        return _deletion_outcome(response)

    def _connected(self, event: OutboxEvent) -> tuple[KlaviyoConnection, Principal] | Outcome:
        """The account's connection when the event is one to send, else its outcome."""
        contact_event = event.event_type in _EVENTS
        services = event.payload.get("connected_services") or []
        if (contact_event and "KLAVIYO" not in services) or (
            not contact_event and event.event_type not in _WALLET_EVENTS
        ):
            return Delivered()
        account = self.known.get(event.account_id)
        if account is None:
            return Delivered()
        try:
            connection = connection_from_settings(account.settings, self.secret_key)
        except CannotUnseal as error:
            return Dead(f"the Klaviyo key cannot be read: {error.message}")
        if connection is None and contact_event:
            return Dead("the account has no Klaviyo connection (patron klaviyo connect)")
        if connection is None or not (contact_event or connection.send_balances):
            return Delivered()
        return connection, accounts.system_principal(account, job="klaviyo")

    def _profile(
        self, principal: Principal, payload: dict[str, Any], *, with_balances: bool
    ) -> tuple[Customer, str | None, dict[str, Any] | None] | None:
        """The contact, its Klaviyo id and (if wanted) its balances, read in one transaction."""
        with self.db.read() as reader:
            wallet: Wallet | None = None
            if "contact_uuid" in payload:
                contact_uuid = str(payload.get("contact_uuid"))
            else:  # a wallet event
                wallet_uuid = str(payload.get("wallet_uuid"))
                wallet = (
                    wallets.find_wallet(reader, principal, wallet_uuid)
                    if is_uuid(wallet_uuid)
                    else None
                )
                if wallet is None:
                    return None
                contact_uuid = wallet.customer_uuid
            found = customers.find_customers(reader, principal, uuid=contact_uuid, limit=1)
            if not found or "KLAVIYO" not in found[0].connected_services:
                return None
            linked = customers.identities_for(reader, principal, [contact_uuid])
            properties = None
            if with_balances:
                if wallet is None:
                    by_contact = wallets.wallets_for_customers(reader, principal, [contact_uuid])
                    wallet = by_contact.get(contact_uuid)
                else:
                    [wallet] = wallets.count_out_expired(reader, principal, [wallet], utcnow())
                if wallet is not None:
                    properties = balance_properties(principal, wallet)
        return found[0], linked.get(contact_uuid, {}).get("KLAVIYO"), properties

    def _upsert(
        self,
        connection: KlaviyoConnection,
        contact: Customer,
        known: str | None,
        properties: dict[str, Any] | None,
    ) -> str | Outcome:
        try:
            response = self.client.post(
                connection.endpoint,
                json=profile_document(contact, known, properties),
                headers={
                    "Authorization": f"Klaviyo-API-Key {connection.api_key}",
                    "revision": REVISION,
                    "accept": JSON_API,
                    "content-type": JSON_API,
                },
            )
        except httpx.TimeoutException as error:
            return Retry(f"Klaviyo timed out: {type(error).__name__}")
        except httpx.HTTPError as error:
            return Retry(f"Klaviyo unreachable: {error}")
        return _profile_id(response)


def _deletion_outcome(response: httpx.Response) -> Outcome:
    status = response.status_code
    if status in (200, 202, 204):
        return Delivered()
    if status in (401, 403):
        return Dead(f"Klaviyo refused the API key (HTTP {status})")
    if status == 429 or status >= 500:
        wait = retry_after(response.headers.get("retry-after")) if status in (429, 503) else None
        return Retry(f"Klaviyo answered HTTP {status}", wait)
    return Dead(f"Klaviyo refused the profile deletion (HTTP {status})")


def _link(db: Database, principal: Principal, contact_uuid: str, profile_id: str) -> Outcome:
    try:
        customers.update_customer(
            db, principal, contact_uuid, CustomerChanges(identities={"KLAVIYO": profile_id})
        )
    except NotFound:
        return Delivered()
    except DomainError as error:
        return Dead(f"cannot store Klaviyo id {profile_id}: {error.message}")
    return Delivered()
