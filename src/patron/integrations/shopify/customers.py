"""Contacts with SHOPIFY among their connected services become Shopify customers, once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from patron.accounts import service as accounts
from patron.accounts.principal import Principal
from patron.core.db import Database
from patron.core.errors import DomainError, NotFound
from patron.core.sealing import CannotUnseal
from patron.customers import service as customers
from patron.customers.models import Customer, CustomerChanges
from patron.integrations.accounts import AccountCache
from patron.integrations.outbox.dispatcher import Dead, Delivered, Outcome, Retry
from patron.integrations.outbox.store import OutboxEvent
from patron.integrations.shopify.admin import (
    AdminApi,
    ShopifyConnection,
    ShopifyError,
    as_outcome,
    connection_from_settings,
)
from patron.privacy.service import SHOPIFY_ERASURE

CUSTOMER_CREATE = """
mutation customerCreate($input: CustomerInput!) {
  customerCreate(input: $input) {
    customer { id }
    userErrors { field message }
  }
}"""
CUSTOMER_BY_EMAIL = """
query customerByEmail($query: String!) {
  customers(first: 1, query: $query) { nodes { id } }
}"""
CUSTOMER_ERASURE = """
mutation customerRequestDataErasure($customerId: ID!) {
  customerRequestDataErasure(customerId: $customerId) {
    customerId
    userErrors { field message code }
  }
}"""
_EVENTS = frozenset({"contact.created", "contact.updated"})


def _customer_input(contact: Customer) -> dict[str, Any]:
    given = {
        "email": contact.email,
        "firstName": contact.first_name,
        "lastName": contact.last_name,
        "phone": contact.phone,
    }
    return {key: value for key, value in given.items() if value}


def _created_id(api: AdminApi, contact: Customer) -> str:
    """The new customer's GID; an email Shopify already has is linked rather than duplicated.

    That is also what makes a retry safe when a worker died after Shopify created the
    customer but before Patron stored its id.
    """
    data = api.execute(CUSTOMER_CREATE, {"input": _customer_input(contact)})
    result = data.get("customerCreate")
    if not isinstance(result, dict):
        raise ShopifyError("Shopify's customerCreate answer has no result", retryable=True)
    customer = result.get("customer")
    if isinstance(customer, dict) and isinstance(customer.get("id"), str):
        return str(customer["id"])
    problems = [str(error.get("message")) for error in result.get("userErrors") or []]
    if contact.email and any("taken" in problem.lower() for problem in problems):
        found = api.execute(CUSTOMER_BY_EMAIL, {"query": f'email:"{contact.email}"'})
        nodes = ((found.get("customers") or {}).get("nodes")) or []
        if nodes and isinstance(nodes[0].get("id"), str):
            return str(nodes[0]["id"])
    raise ShopifyError(
        "Shopify refused the customer: " + ("; ".join(problems) or "no reason given"),
        retryable=False,
    )


@dataclass
class ShopifyCustomerSync:
    """An outbox handler for contact.created / contact.updated, and for the erasure of a
    customer Patron has erased (``customerRequestDataErasure``)."""

    db: Database
    client: httpx.Client
    secret_key: str | None = None  # opens the sealed access token
    account_cache: AccountCache | None = None  # shared by the worker's handlers
    known: AccountCache = field(init=False)

    def __post_init__(self) -> None:
        self.known = self.account_cache or AccountCache(self.db)

    def __call__(self, event: OutboxEvent, last_attempt: bool) -> Outcome:
        payload = event.payload
        if event.event_type == SHOPIFY_ERASURE:
            return self._erase(event)
        if event.event_type not in _EVENTS or "SHOPIFY" not in (
            payload.get("connected_services") or []
        ):
            return Delivered()
        connected = self._connected(event.account_id)
        if not isinstance(connected, tuple):
            return connected
        connection, principal = connected
        contact_uuid = str(payload.get("contact_uuid"))
        with self.db.read() as reader:
            found = customers.find_customers(reader, principal, uuid=contact_uuid, limit=1)
            linked = customers.identities_for(reader, principal, [contact_uuid])
        if not found or linked.get(contact_uuid, {}).get("SHOPIFY"):
            return Delivered()  # deleted since, or already a Shopify customer
        try:
            shopify_id = _created_id(AdminApi(self.client, connection), found[0])
        except ShopifyError as error:
            return as_outcome(error)
        return _link(self.db, principal, contact_uuid, shopify_id)

    def _erase(self, event: OutboxEvent) -> Outcome:
        """Ask Shopify to erase the customer's data: Shopify then does it in its own time."""
        connected = self._connected(event.account_id)
        if not isinstance(connected, tuple):
            return connected
        connection, _principal = connected
        customer_id = str(event.payload.get("customer_id"))
        try:
            data = AdminApi(self.client, connection).execute(
                CUSTOMER_ERASURE, {"customerId": customer_id}
            )
        except ShopifyError as error:
            return as_outcome(error)
        result = data.get("customerRequestDataErasure")
        if not isinstance(result, dict):
            return Retry("Shopify's customerRequestDataErasure answer has no result")
        errors = [error for error in result.get("userErrors") or [] if isinstance(error, dict)]
        if any(error.get("code") == "DOES_NOT_EXIST" for error in errors):
            return Delivered()  # no such customer in Shopify: nothing there to erase
        if errors:
            problems = "; ".join(str(error.get("message")) for error in errors)
            return Dead(f"Shopify refused the erasure: {problems}"[:500])
        return Delivered()

    def _connected(self, account_id: str) -> tuple[ShopifyConnection, Principal] | Outcome:
        """The account's connection, or the outcome for an event that cannot be sent."""
        account = self.known.get(account_id)
        if account is None:
            return Delivered()
        try:
            connection = connection_from_settings(account.settings, self.secret_key)
        except CannotUnseal as error:
            return Dead(f"the Shopify token cannot be read: {error.message}")
        if connection is None:
            return Dead("the account has no Shopify connection (patron shopify connect)")
        return connection, accounts.system_principal(account, job="shopify")


def _link(db: Database, principal: Principal, contact_uuid: str, shopify_id: str) -> Outcome:
    changes = CustomerChanges(identities={"SHOPIFY": shopify_id})
    try:
        customers.update_customer(db, principal, contact_uuid, changes)
    except NotFound:
        return Delivered()  # deleted while Shopify was creating it
    except DomainError as error:
        return Dead(f"cannot store Shopify id {shopify_id}: {error.message}")
    return Delivered()
