"""Customers in the console: search, the customer page, and what agents do on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from patron.api.console.web import PATH, Console, PageError, Visit
from patron.core.db import Database
from patron.core.errors import DomainError, InvalidInput
from patron.core.ids import is_uuid
from patron.customers import search as customer_search
from patron.customers import service as customers
from patron.customers.models import Customer, CustomerChanges
from patron.orders import service as orders
from patron.privacy import service as privacy
from patron.redemptions import service as redemptions
from patron.redemptions.models import NewRedemption, RedemptionStatus
from patron.wallets import service as wallets
from patron.wallets.models import Action, ConversionCommand, CreditType, EntryCommand, Reason

PAGE_SIZE = 25
LEDGER_PAGE = 25
PROFILE_FIELDS = (
    ("name", "Name"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("email", "Email"),
    ("phone", "Phone (E.164, +15551234567)"),
    ("city", "City"),
    ("country", "Country (two letters)"),
    ("notes", "Notes"),
)
# Every action the console offers, and what the page says once it is done.
DONE = {
    "credit": "The credit entry was written.",
    "reversed": "The entry was reversed.",
    "converted": "The credit was converted.",
    "code": "The redemption code was issued.",
    "cancelled": "The redemption code was cancelled.",
    "profile": "The profile was saved.",
}


@dataclass(frozen=True, slots=True)
class Found:
    customers: list[Customer]
    balances: dict[str, Any]
    next_after: int | None


def _search(db: Database, visit: Visit, text: str, after: int | None) -> Found:
    """Digits: a customer number; ``shopify:<id>`` or a Shopify GID: that identity; anything
    else: words matched in name, email and phone (all must match)."""
    principal = visit.principal
    with db.read() as connection:
        found: list[Customer]
        next_after: int | None = None
        lowered = text.lower()
        if lowered.startswith(("shopify:", "gid://shopify/")):
            wanted = text.split(":", 1)[1] if lowered.startswith("shopify:") else text
            found = customers.find_customers(
                connection, principal, shopify_id=wanted.strip(), limit=PAGE_SIZE
            )
        elif text.isdigit() and after is None:
            one = customer_search.customer_by_number(connection, principal, int(text))
            found = [one] if one is not None else []
        else:
            words = customer_search.search_words(text, field="q")
            page = customer_search.search_customers(
                connection,
                principal,
                customer_search.CustomerSearch(
                    order_by="number",
                    descending=True,
                    words=words,
                    after=customer_search.keyset("number", after, after)
                    if after is not None
                    else None,
                    limit=PAGE_SIZE,
                ),
            )
            found = page.customers
            next_after = page.customers[-1].number if page.has_next else None
        balances = wallets.wallets_for_customers(
            connection, principal, [customer.uuid for customer in found]
        )
    return Found(found, balances, next_after)


class Customers:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.db = console.db

    # Search

    def search(self, visit: Visit) -> Response:
        text = visit.query("q")[:1000]
        after_text = visit.query("after")
        after = int(after_text) if after_text.isdigit() and len(after_text) < 19 else None
        try:
            found = _search(self.db, visit, text, after)
        except DomainError as error:
            return self.console.render(
                visit, "customers.html", 400, q=text, error=error.message, found=None
            )
        done = "The customer was erased." if visit.query("done") == "erased" else None
        return self.console.render(
            visit, "customers.html", q=text, found=found, quote=quote, done=done
        )

    # The customer page

    def _load(self, visit: Visit, customer_uuid: str) -> dict[str, Any]:
        principal = visit.principal
        before_text = visit.query("before")
        before = int(before_text) if before_text.isdigit() and len(before_text) < 19 else None
        with self.db.read() as connection:
            found = (
                customers.find_customers(connection, principal, uuid=customer_uuid, limit=1)
                if is_uuid(customer_uuid)
                else []
            )
            if not found:
                raise PageError(404, "There is no such customer in this account.")
            customer = found[0]
            identities = customers.identities_for(connection, principal, [customer.uuid])
            wallet = wallets.wallets_for_customers(connection, principal, [customer.uuid]).get(
                customer.uuid
            )
            entries = []
            lots = []
            codes = []
            if wallet is not None:
                entries = wallets.entries_before(
                    connection, principal, wallet.uuid, before_seq=before, limit=LEDGER_PAGE + 1
                )
                lots = wallets.upcoming_lots(connection, principal, [wallet.uuid]).get(
                    wallet.uuid, []
                )
                codes = redemptions.codes_for_wallets(
                    connection, principal, [wallet.uuid], limit=PAGE_SIZE, offset=0
                ).get(wallet.uuid, [])
            customer_orders = orders.orders_for_customers(
                connection, principal, [customer.uuid], limit=10, offset=0
            ).get(customer.uuid, [])
        shown = entries[:LEDGER_PAGE]
        return {
            "customer": customer,
            "identities": identities.get(customer.uuid, {}),
            "wallet": wallet,
            "entries": shown,
            "older": shown[-1].seq if len(entries) > LEDGER_PAGE else None,
            "lots": lots,
            "codes": codes,
            "orders": customer_orders,
            "reversible": _reversible,
            "actor_of": _actor_of,
            "credit_types": [kind.value for kind in CreditType],
            "profile_fields": PROFILE_FIELDS,
            "active": RedemptionStatus.ACTIVE,
            "code_value": lambda code: redemptions.reward_value(principal, code),
            "can_act": visit.role.at_least(visit.role.AGENT),
            "can_erase": visit.role.at_least(visit.role.ADMIN),
        }

    def page(self, visit: Visit, status: int = 200, error: str | None = None) -> Response:
        customer_uuid = visit.request.path_params["uuid"]
        values = self._load(visit, customer_uuid)
        done = DONE.get(visit.query("done"))
        return self.console.render(visit, "customer.html", status, error=error, done=done, **values)

    def _act(self, visit: Visit, action: Callable[[str], Any], done: str) -> Response:
        """Run one command for the customer in the path; a refusal shows the page again with
        what was wrong (and nothing written), a success goes back to the page."""
        customer_uuid = visit.request.path_params["uuid"]
        try:
            action(self._wallet_uuid(visit, customer_uuid))
        except DomainError as error:
            status = 403 if error.code == "FORBIDDEN" else 400
            return self.page(visit, status, error.message)
        return self.console.redirect(f"{PATH}/customers/{customer_uuid}?done={done}")

    def _wallet_uuid(self, visit: Visit, customer_uuid: str) -> str:
        if not is_uuid(customer_uuid):
            raise PageError(404, "There is no such customer in this account.")
        with self.db.read() as connection:
            found = wallets.wallet_uuids_for_customers(connection, visit.principal, [customer_uuid])
        if customer_uuid not in found:
            raise PageError(404, "There is no such customer in this account.")
        return found[customer_uuid]

    def adjust(self, visit: Visit) -> Response:
        def post(wallet_uuid: str) -> None:
            note = visit.field("note")
            if not note:
                raise InvalidInput("say why in the note: it is kept with the entry", field="note")
            action = visit.field("action").upper()
            if action not in {Action.ADD.value, Action.REMOVE.value}:
                raise InvalidInput("choose to add or to remove credit", field="action")
            wallets.post_entry(
                self.db,
                visit.principal,
                EntryCommand(
                    wallet_uuid=wallet_uuid,
                    action=action,
                    credit_type=visit.field("credit_type"),
                    amount=_decimal(visit.field("amount")),
                    note=note,
                    idempotency_key=visit.field("idempotency_key") or None,
                ),
                reason=Reason.MANUAL,
            )

        return self._act(visit, post, "credit")

    def reverse(self, visit: Visit) -> Response:
        def post(wallet_uuid: str) -> None:
            entry_uuid = visit.field("entry")
            with self.db.read() as connection:
                found = wallets.get_entries(connection, visit.principal, [entry_uuid])
            if not found or found[0].wallet_uuid != wallet_uuid:
                raise InvalidInput("that entry is not in this customer's ledger", field="entry")
            amount = visit.field("amount")
            wallets.reverse_entry(
                self.db,
                visit.principal,
                entry_uuid,
                amount=_decimal(amount) if amount else None,
                note=visit.field("note") or None,
                idempotency_key=visit.field("idempotency_key") or None,
            )

        return self._act(visit, post, "reversed")

    def convert(self, visit: Visit) -> Response:
        def post(wallet_uuid: str) -> None:
            source = visit.field("from").upper()
            target = "GLOBAL" if source == "LOCAL" else "LOCAL"
            wallets.convert_credit(
                self.db,
                visit.principal,
                ConversionCommand(
                    wallet_uuid=wallet_uuid,
                    amount=_decimal(visit.field("amount")),
                    from_type=source,
                    to_type=target,
                    note=visit.field("note") or None,
                    idempotency_key=visit.field("idempotency_key") or None,
                ),
            )

        return self._act(visit, post, "converted")

    def issue_code(self, visit: Visit) -> Response:
        def post(wallet_uuid: str) -> None:
            redemptions.create_redemptions(
                self.db,
                visit.principal,
                NewRedemption(
                    credit_type=visit.field("credit_type"),
                    amount=_decimal(visit.field("amount")),
                    wallet_uuid=wallet_uuid,
                    note=visit.field("note") or None,
                    idempotency_key=visit.field("idempotency_key") or None,
                ),
            )

        return self._act(visit, post, "code")

    def cancel_code(self, visit: Visit) -> Response:
        def post(wallet_uuid: str) -> None:
            code = visit.field("code")
            with self.db.read() as connection:
                found = redemptions.find_code(connection, visit.principal, code) if code else None
            if found is None or found.wallet_uuid != wallet_uuid:
                raise InvalidInput("that code is not this customer's", field="code")
            redemptions.cancel_code(self.db, visit.principal, code)

        return self._act(visit, post, "cancelled")

    def edit_profile(self, visit: Visit) -> Response:
        def post(_wallet_uuid: str) -> None:
            profile = {
                name: visit.field(name) or None
                for name, _label in PROFILE_FIELDS
                if name in visit.form  # a field the form did not send stays as it is
            }
            customers.update_customer(
                self.db,
                visit.principal,
                visit.request.path_params["uuid"],
                CustomerChanges(profile=profile),
            )

        return self._act(visit, post, "profile")

    def erase(self, visit: Visit) -> Response:
        """Erase the customer (admin): personal data blanked for good, the books kept. The
        form asks for the word ERASE, so that no stray click does it."""
        customer_uuid = visit.request.path_params["uuid"]
        self._wallet_uuid(visit, customer_uuid)  # 404 for a customer not in this account
        if visit.field("confirm").strip() != "ERASE":
            return self.page(visit, 400, "Type ERASE to confirm: erasure cannot be undone.")
        try:
            privacy.erase_contact(self.db, visit.principal, customer_uuid)
        except DomainError as error:
            status = 403 if error.code == "FORBIDDEN" else 400
            return self.page(visit, status, error.message)
        return self.console.redirect(f"{PATH}/customers?done=erased")


def _decimal(text: str) -> str:
    """The form's amount, handed as written to the services' own number rules (a thousands
    separator is dropped: 1,000.00 is 1000.00)."""
    cleaned = text.strip().replace(",", "")
    if not cleaned:
        raise InvalidInput("enter an amount", field="amount")
    return cleaned


def _reversible(entry: Any) -> bool:
    reason = Reason(entry.reason)
    return reason.reversal is not None and entry.reverses_uuid is None


def _actor_of(entry: Any) -> str:
    """Who wrote an entry: the token's or job's name beside its kind and id, when known."""
    actor = entry.actor
    if not actor:
        return ""
    return f"{actor} ({entry.actor_name})" if entry.actor_name else str(actor)
