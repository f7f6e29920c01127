"""Contacts with KLAVIYO among their connected services are upserted as Klaviyo profiles.

Klaviyo's ``POST /api/profile-import`` creates or updates a profile (matched on email, phone
or external id) and answers with its id, which is stored as the contact's Klaviyo identity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from patron.accounts import service as accounts
from patron.accounts.principal import Principal
from patron.core.db import Database
from patron.core.errors import DomainError, NotFound
from patron.customers import service as customers
from patron.customers.models import Customer, CustomerChanges
from patron.integrations.outbox.dispatcher import Dead, Delivered, Outcome, Retry
from patron.integrations.outbox.store import OutboxEvent

REVISION = "2024-10-15"
SETTINGS_KEY = "klaviyo"
DEFAULT_BASE = "https://a.klaviyo.com"
_EVENTS = frozenset({"contact.created", "contact.updated"})
JSON_API = "application/vnd.api+json"


@dataclass(frozen=True, slots=True)
class KlaviyoConnection:
    api_key: str
    api_base: str | None = None  # only an operator sets it: a proxy or a test

    @property
    def endpoint(self) -> str:
        return f"{(self.api_base or DEFAULT_BASE).rstrip('/')}/api/profile-import"

    def as_setting(self) -> dict[str, str]:
        value = {"api_key": self.api_key}
        if self.api_base:
            value["api_base"] = self.api_base
        return value


def connection_from_settings(settings: dict[str, Any]) -> KlaviyoConnection | None:
    value = settings.get(SETTINGS_KEY)
    if not isinstance(value, dict) or not value.get("api_key"):
        return None
    base = value.get("api_base")
    return KlaviyoConnection(str(value["api_key"]), str(base) if base else None)


def profile_document(contact: Customer, klaviyo_id: str | None) -> dict[str, Any]:
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
    if klaviyo_id:
        data["id"] = klaviyo_id
    return {"data": data}


def _profile_id(response: httpx.Response) -> str | Outcome:
    """The profile id of an answer, or the outcome its failure calls for."""
    status = response.status_code
    if status in (401, 403):
        return Dead(f"Klaviyo refused the API key (HTTP {status})")
    if status == 429 or status >= 500:
        return Retry(f"Klaviyo answered HTTP {status}")
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
    """An outbox handler for contact.created / contact.updated."""

    db: Database
    client: httpx.Client

    def __call__(self, event: OutboxEvent, last_attempt: bool) -> Outcome:
        payload = event.payload
        services = payload.get("connected_services") or []
        if event.event_type not in _EVENTS or "KLAVIYO" not in services:
            return Delivered()
        try:
            account = accounts.get_account(self.db, event.account_id)
        except NotFound:
            return Delivered()
        connection = connection_from_settings(account.settings)
        if connection is None:
            return Dead("the account has no Klaviyo connection (patron klaviyo connect)")
        principal = accounts.system_principal(account)
        contact_uuid = str(payload.get("contact_uuid"))
        with self.db.read() as reader:
            found = customers.find_customers(reader, principal, uuid=contact_uuid, limit=1)
            linked = customers.identities_for(reader, principal, [contact_uuid])
        if not found:
            return Delivered()
        known = linked.get(contact_uuid, {}).get("KLAVIYO")
        profile_id = self._upsert(connection, found[0], known)
        if isinstance(profile_id, str) and profile_id != known:
            return _link(self.db, principal, contact_uuid, profile_id)
        return Delivered() if isinstance(profile_id, str) else profile_id

    def _upsert(
        self, connection: KlaviyoConnection, contact: Customer, known: str | None
    ) -> str | Outcome:
        try:
            response = self.client.post(
                connection.endpoint,
                json=profile_document(contact, known),
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
