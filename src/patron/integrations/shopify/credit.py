"""Store credit in Shopify: a wallet's ``shopifyCreditBalance`` read from Shopify, and GLOBAL
credit entries mirrored to the customer's Shopify store credit.

The balance is Shopify's ``storeCreditAccount`` in the account's currency (0 when the
customer has none), read on demand (``refreshShopifyCreditBalance``) and by the worker for
wallets not read for a while. With ``mirror_store_credit`` on, every GLOBAL ADD becomes a
``storeCreditAccountCredit`` and every GLOBAL SPEND or REMOVE a ``storeCreditAccountDebit``,
once per entry: the entry's uuid keys the journal that makes a retry safe (``journal``).
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from patron.accounts import service as accounts
from patron.accounts.principal import Principal
from patron.core.clock import as_utc, utcnow
from patron.core.db import Database
from patron.core.errors import Conflict, DomainError, NotFound
from patron.core.ids import is_uuid
from patron.core.money import from_minor, to_minor
from patron.core.sealing import CannotUnseal
from patron.customers import service as customers
from patron.customers.validation import display_external_id
from patron.integrations.accounts import AccountCache
from patron.integrations.outbox.dispatcher import Dead, Delivered, Outcome, Retry
from patron.integrations.outbox.store import OutboxEvent
from patron.integrations.shopify import journal
from patron.integrations.shopify.admin import (
    AdminApi,
    ShopifyConnection,
    ShopifyError,
    as_outcome,
    connection_from_settings,
)
from patron.wallets import service as wallets
from patron.wallets.models import Wallet

log = logging.getLogger("patron.shopify")

STORE_CREDIT_ACCOUNTS = """
query storeCreditAccounts($id: ID!) {
  customer(id: $id) {
    storeCreditAccounts(first: 10) {
      nodes { id balance { amount currencyCode } }
    }
  }
}"""
RECENT_TRANSACTIONS = """
query storeCreditTransactions($id: ID!) {
  customer(id: $id) {
    storeCreditAccounts(first: 10) {
      nodes {
        balance { amount currencyCode }
        transactions(first: 50, reverse: true) {
          nodes {
            __typename
            amount { amount currencyCode }
            createdAt
            ... on StoreCreditAccountCreditTransaction { id }
            ... on StoreCreditAccountDebitTransaction { id }
          }
        }
      }
    }
  }
}"""
_TRANSACTION = """
    storeCreditAccountTransaction {
      id
      amount { amount currencyCode }
      balanceAfterTransaction { amount currencyCode }
    }
    userErrors { field message code }"""
CREDIT = f"""
mutation storeCreditAccountCredit($id: ID!, $creditInput: StoreCreditAccountCreditInput!) {{
  storeCreditAccountCredit(id: $id, creditInput: $creditInput) {{{_TRANSACTION}
  }}
}}"""
DEBIT = f"""
mutation storeCreditAccountDebit($id: ID!, $debitInput: StoreCreditAccountDebitInput!) {{
  storeCreditAccountDebit(id: $id, debitInput: $debitInput) {{{_TRANSACTION}
  }}
}}"""

# Which ledger events move Shopify store credit, and which way.
MIRRORED = {
    "wallet.credit_added": "credit",
    "wallet.credit_spent": "debit",
    "wallet.credit_removed": "debit",
}
_TYPENAME = {
    "credit": "StoreCreditAccountCreditTransaction",
    "debit": "StoreCreditAccountDebitTransaction",
}
# An in-doubt request is looked for among transactions made from this long before it was sent
# (clocks differ) onwards.
CLOCK_SKEW = timedelta(minutes=2)
# A contact's Shopify customer, or credit mirrored before a debit, may still be on its way.
WAIT_FOR_ORDER_SECONDS = 30.0
_WAIT_FOR_CREDIT = frozenset({"INSUFFICIENT_FUNDS", "ACCOUNT_NOT_FOUND"})


class ShopifyNotConnected(Conflict):
    code = "SHOPIFY_NOT_CONNECTED"


class NotAShopifyCustomer(Conflict):
    code = "NOT_A_SHOPIFY_CUSTOMER"


class ShopifyUnavailable(DomainError):
    code = "SHOPIFY_UNAVAILABLE"


def _minor(money: Any, currency: str, places: int) -> int | None:
    """A MoneyV2 in minor units (its absolute value); None when it is in another currency."""
    if not isinstance(money, dict) or money.get("currencyCode") != currency:
        return None
    try:
        return abs(to_minor(Decimal(str(money["amount"])), places))
    except (KeyError, InvalidOperation, DomainError):
        raise ShopifyError(
            f"Shopify sent a malformed amount: {money!r}"[:300], retryable=True, in_doubt=True
        ) from None


def _accounts_of(data: dict[str, Any], gid: str) -> list[dict[str, Any]]:
    customer = data.get("customer")
    if customer is None:
        raise ShopifyError(f"Shopify has no customer {gid}", retryable=False)
    if not isinstance(customer, dict):
        raise ShopifyError("Shopify sent a malformed customer", retryable=True)
    nodes = (customer.get("storeCreditAccounts") or {}).get("nodes")
    if not isinstance(nodes, list):
        raise ShopifyError("Shopify sent no store credit accounts", retryable=True)
    return [node for node in nodes if isinstance(node, dict)]


def read_balance(api: AdminApi, gid: str, currency: str, places: int) -> int:
    """The customer's store credit in ``currency``, in minor units (0 without an account)."""
    data = api.execute(STORE_CREDIT_ACCOUNTS, {"id": gid})
    for node in _accounts_of(data, gid):
        balance = _minor(node.get("balance"), currency, places)
        if balance is not None:
            return balance
    return 0


@dataclass(frozen=True, slots=True)
class _Owner:
    wallet: Wallet
    customer_gid: str | None
    wants_shopify: bool  # SHOPIFY among the contact's connected services


def _owner(db: Database, principal: Principal, wallet_uuid: str) -> _Owner:
    with db.read() as reader:
        found = (
            wallets.find_wallet(reader, principal, wallet_uuid) if is_uuid(wallet_uuid) else None
        )
        if found is None:
            raise NotFound(f"no wallet with uuid '{wallet_uuid}'", field="walletUuid")
        [wallet] = wallets.count_out_expired(reader, principal, [found], utcnow())
        linked = customers.identities_for(reader, principal, [wallet.customer_uuid])
        contact = customers.find_customers(reader, principal, uuid=wallet.customer_uuid, limit=1)
    return _Owner(
        wallet,
        linked.get(wallet.customer_uuid, {}).get("SHOPIFY"),
        bool(contact) and "SHOPIFY" in contact[0].connected_services,
    )


def _connection(db: Database, principal: Principal, secret_key: str | None) -> ShopifyConnection:
    account = accounts.get_account(db, principal.account_id)
    connection = connection_from_settings(account.settings, secret_key)
    if connection is None:
        raise ShopifyNotConnected(
            "the account is not connected to Shopify (patron shopify connect)"
        )
    return connection


def refresh_balance(
    db: Database,
    client: httpx.Client,
    principal: Principal,
    wallet_uuid: str,
    secret_key: str | None = None,
) -> Wallet:
    """Read the wallet's store credit from Shopify now and keep it; the wallet as it is then."""
    principal.require("write")
    connection = _connection(db, principal, secret_key)
    owner = _owner(db, principal, wallet_uuid)
    if owner.customer_gid is None:
        raise NotAShopifyCustomer(
            "the wallet's contact has no Shopify customer id yet", field="walletUuid"
        )
    read_at = utcnow()
    try:
        balance = read_balance(
            AdminApi(client, connection),
            owner.customer_gid,
            principal.currency,
            principal.currency_precision,
        )
    except ShopifyError as error:
        raise ShopifyUnavailable(f"could not read the store credit from Shopify: {error}") from None
    with db.write() as writer:
        wallets.record_shopify_balance(
            writer, principal.account_id, owner.wallet.uuid, balance, read_at
        )
        fresh = wallets.find_wallet(writer, principal, owner.wallet.uuid)
        if fresh is None:
            raise NotFound(f"no wallet with uuid '{wallet_uuid}'", field="walletUuid")
        return wallets.count_out_expired(writer, principal, [fresh], read_at)[0]


@dataclass
class RefreshReport:
    refreshed: int = 0
    failed: int = 0


def _stale(
    db: Database, principal: Principal, before: datetime, limit: int
) -> list[tuple[str, str]]:
    """(wallet uuid, Shopify customer id) of wallets not read since ``before``, oldest first."""
    owners = customers.identity_ids(principal, "SHOPIFY")
    with db.read() as reader:
        stale = wallets.stale_shopify_wallets(reader, principal, owners, before, limit)
    return [(wallet_uuid, display_external_id("SHOPIFY", gid)) for wallet_uuid, gid in stale]


def refresh_stale(
    db: Database,
    client: httpx.Client,
    *,
    older_than: timedelta,
    limit: int = 100,
    now: datetime | None = None,
    account_id: str | None = None,
    secret_key: str | None = None,
) -> RefreshReport:
    """The worker's pass: up to ``limit`` wallets of Shopify customers whose store credit was
    not read within ``older_than`` (or never) are read again, of every account or of one.
    A failure is logged and counted; a refused token stops that account's pass."""
    report = RefreshReport()
    before = (now or utcnow()) - older_than
    for account in accounts.list_accounts(db):
        if account_id is not None and account.uuid != account_id:
            continue
        try:
            connection = connection_from_settings(account.settings, secret_key)
        except CannotUnseal as error:
            log.warning("account %s: the Shopify token cannot be read: %s", account.uuid, error)
            continue
        if connection is None or report.refreshed + report.failed >= limit:
            continue
        principal = accounts.system_principal(account, job="shopify")
        api = AdminApi(client, connection)
        for wallet_uuid, gid in _stale(
            db, principal, before, limit - report.refreshed - report.failed
        ):
            read_at = utcnow()
            try:
                balance = read_balance(api, gid, principal.currency, principal.currency_precision)
            except ShopifyError as error:
                report.failed += 1
                log.warning("store credit of wallet %s not refreshed: %s", wallet_uuid, error)
                if not error.retryable:
                    break
                continue
            with db.write() as writer:
                wallets.record_shopify_balance(writer, account.uuid, wallet_uuid, balance, read_at)
            report.refreshed += 1
    return report


@dataclass
class ShopifyCreditMirror:
    """An outbox handler: GLOBAL credit entries to Shopify store credit, each exactly once."""

    db: Database
    client: httpx.Client
    secret_key: str | None = None  # opens the sealed access token
    account_cache: AccountCache | None = None  # shared by the worker's handlers
    known: AccountCache = field(init=False)
    clock: Any = field(default=utcnow)
    _locks: weakref.WeakValueDictionary[str, threading.Lock] = field(
        default_factory=weakref.WeakValueDictionary
    )
    _locks_guard: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.known = self.account_cache or AccountCache(self.db)

    def __call__(self, event: OutboxEvent, last_attempt: bool) -> Outcome:
        try:
            target = self._target(event)
        except CannotUnseal as error:
            return Dead(f"the Shopify token cannot be read: {error.message}")
        if not isinstance(target, tuple):
            return target
        api, mirror, places = target
        # One customer's entries go to Shopify one at a time from this process, so that each
        # balance Shopify answers with is recorded in the order Shopify applied them.
        with self._lock_for(mirror.wallet_uuid):
            try:
                return self._mirror(api, mirror, places, last_attempt)
            except ShopifyError as error:
                return as_outcome(error)

    def _lock_for(self, wallet_uuid: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(wallet_uuid, threading.Lock())

    def _connected(self, account_id: str) -> tuple[ShopifyConnection, Principal] | None:
        """The account's Shopify connection when it mirrors store credit (CannotUnseal when
        its token cannot be read)."""
        account = self.known.get(account_id)
        if account is None:
            return None
        connection = connection_from_settings(account.settings, self.secret_key)
        if connection is None or not connection.mirror_store_credit:
            return None
        return connection, accounts.system_principal(account, job="shopify")

    def _target(self, event: OutboxEvent) -> tuple[AdminApi, journal.Mirror, int] | Outcome:
        """What to send for an event, or the outcome when there is nothing to send."""
        direction = MIRRORED.get(event.event_type)
        payload = event.payload
        connected = (
            self._connected(event.account_id)
            if direction is not None and payload.get("credit_type") == "GLOBAL"
            else None
        )
        if direction is None or connected is None:
            return Delivered()
        connection, principal = connected
        try:
            owner = _owner(self.db, principal, str(payload.get("wallet_uuid")))
        except NotFound:
            return Delivered()  # the contact was deleted since
        if owner.customer_gid is None:
            if owner.wants_shopify:
                return Retry("the contact is not a Shopify customer yet", WAIT_FOR_ORDER_SECONDS)
            return Delivered()  # a contact Shopify does not know
        places = principal.currency_precision
        try:
            amount = abs(to_minor(Decimal(str(payload.get("amount"))), places))
        except (InvalidOperation, DomainError):
            return Dead(f"the event's amount {payload.get('amount')!r} is not an amount")
        mirror = journal.Mirror(
            account_id=principal.account_id,
            entry_uuid=str(payload.get("entry_uuid")),
            wallet_uuid=owner.wallet.uuid,
            customer_gid=owner.customer_gid,
            direction=direction,
            amount=amount,
            currency=principal.currency,
        )
        return AdminApi(self.client, connection), mirror, places

    def _mirror(
        self, api: AdminApi, mirror: journal.Mirror, places: int, last_attempt: bool
    ) -> Outcome:
        recorded = journal.open_mirror(self.db, mirror, self.clock())
        if recorded is not None:
            if recorded.status == journal.DONE:
                return Delivered()
            if recorded.status == journal.SENDING:  # the last try may have been applied
                found = self._applied(api, mirror, recorded.sent_at, places)
                if found is not None:
                    journal.done(self.db, mirror, found[0], found[1], self.clock())
                    return Delivered()
            journal.resend(self.db, mirror, self.clock())
        return self._send(api, mirror, places, last_attempt)

    def _send(
        self, api: AdminApi, mirror: journal.Mirror, places: int, last_attempt: bool
    ) -> Outcome:
        amount = {"amount": str(from_minor(mirror.amount, places)), "currencyCode": mirror.currency}
        if mirror.direction == "credit":
            name, query = "storeCreditAccountCredit", CREDIT
            variables = {"id": mirror.customer_gid, "creditInput": {"creditAmount": amount}}
        else:
            name, query = "storeCreditAccountDebit", DEBIT
            variables = {"id": mirror.customer_gid, "debitInput": {"debitAmount": amount}}
        try:
            data = api.execute(query, variables)
        except ShopifyError as error:
            if not error.in_doubt:
                journal.failed(self.db, mirror, str(error), self.clock())
            return as_outcome(error)
        result = data.get(name)
        if not isinstance(result, dict):
            return Retry(f"Shopify's {name} answer has no result")  # in doubt: reconciled
        transaction = result.get("storeCreditAccountTransaction")
        if isinstance(transaction, dict) and isinstance(transaction.get("id"), str):
            balance = _minor(transaction.get("balanceAfterTransaction"), mirror.currency, places)
            journal.done(self.db, mirror, transaction["id"], balance, self.clock())
            return Delivered()
        problems = [e for e in result.get("userErrors") or [] if isinstance(e, dict)]
        message = "; ".join(str(e.get("message")) for e in problems) or "no reason given"
        refusal = f"Shopify refused the store credit {mirror.direction}: {message}"
        journal.failed(self.db, mirror, refusal, self.clock())
        if any(e.get("code") in _WAIT_FOR_CREDIT for e in problems) and not last_attempt:
            # Credit mirrored before it may still be on its way (the outbox delivers a batch
            # side by side): wait for it, then give up.
            return Retry(refusal, WAIT_FOR_ORDER_SECONDS)
        return Dead(refusal)

    def _applied(
        self, api: AdminApi, mirror: journal.Mirror, sent_at: datetime, places: int
    ) -> tuple[str, int | None] | None:
        """The transaction an in-doubt request made, if Shopify has it: one of the right kind
        and amount, made since it was sent, that no other entry is recorded with."""
        data = api.execute(RECENT_TRANSACTIONS, {"id": mirror.customer_gid})
        candidates: list[tuple[str, int | None]] = []
        for node in _accounts_of(data, mirror.customer_gid):
            balance = _minor(node.get("balance"), mirror.currency, places)
            if balance is None:
                continue
            transactions = (node.get("transactions") or {}).get("nodes") or []
            for transaction in transactions:
                if not isinstance(transaction, dict):
                    continue
                made = _when(transaction.get("createdAt"))
                if (
                    transaction.get("__typename") == _TYPENAME[mirror.direction]
                    and isinstance(transaction.get("id"), str)
                    and made is not None
                    and made >= sent_at - CLOCK_SKEW
                    and _minor(transaction.get("amount"), mirror.currency, places) == mirror.amount
                ):
                    candidates.append((transaction["id"], balance))
        known = journal.known_transactions(
            self.db, mirror.account_id, [candidate[0] for candidate in candidates]
        )
        fresh = [candidate for candidate in candidates if candidate[0] not in known]
        return fresh[-1] if fresh else None


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def shopify_client(timeout_seconds: float) -> httpx.Client:
    """For calls outside the worker (an on-demand refresh): bounded, no redirects."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0)),
        follow_redirects=False,
    )
