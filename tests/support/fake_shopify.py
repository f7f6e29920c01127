"""A local stand-in for Shopify's Admin GraphQL API: the operations the connector uses.

It answers as the documentation describes: 401 for a wrong access token, ``userErrors`` for an
email that is taken, throttling as HTTP 429 (with ``Retry-After``) or as a 200 with a
``THROTTLED`` error and the query's cost, store credit accounts per customer and currency
(created by the first credit; a debit above the balance is ``INSUFFICIENT_FUNDS``), and their
transactions, newest first.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from patron.integrations.shopify.admin import API_VERSION
from tests.support.json_server import Answer, serving

TOKEN = "shpat_test_token"
PATH = f"/admin/api/{API_VERSION}/graphql.json"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


@dataclass
class FakeShopify:
    base_url: str = ""
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)  # gid -> input
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Scripted trouble for the next requests: "429", "THROTTLED", "500", "MALFORMED",
    # "APPLIED_500": the request is carried out, then answered with a 500, or "APPLIED_SLOW":
    # carried out, then answered after ``slow_seconds``.
    trouble: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Store credit: account gid -> {"owner", "currency", "balance", "transactions"}.
    credit_accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    slow_seconds: float = 2.0
    # Customers whose data erasure was requested (customerRequestDataErasure), in order.
    erasure_requests: list[str] = field(default_factory=list)

    def balance(self, owner: str, currency: str = "USD") -> Decimal:
        for account in self.credit_accounts.values():
            if account["owner"] == owner and account["currency"] == currency:
                return Decimal(account["balance"])
        return Decimal(0)

    def give_credit(self, owner: str, amount: str, currency: str = "USD") -> None:
        """Store credit given in Shopify itself (a refund to store credit, the admin)."""
        with self.lock:
            self._move(owner, "credit", {"amount": amount, "currencyCode": currency})

    def add_customer(self, **values: Any) -> str:
        gid = f"gid://shopify/Customer/{7000000001 + len(self.customers)}"
        self.customers[gid] = values
        return gid

    def answer(self, token: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        answer = self._answer(token, body)
        if answer[0] == -1:  # applied; the answer comes too late for the client
            time.sleep(self.slow_seconds)
            return 200, answer[1]
        return answer

    def _answer(self, token: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        with self.lock:
            self.requests.append({**body, "token": token})
            if token != TOKEN:
                return 401, {"errors": INVALID_TOKEN}
            if self.trouble:
                trouble = self.trouble.pop(0)
                if trouble.startswith("APPLIED_"):
                    _, applied = self._operation(body.get("query", ""), body.get("variables") or {})
                    if trouble == "APPLIED_SLOW":
                        return -1, applied
                    return 500, {"errors": "Internal error"}
                return self._trouble(trouble)
            return self._operation(body.get("query", ""), body.get("variables") or {})

    def _trouble(self, trouble: str) -> tuple[int, Any]:
        if trouble == "THROTTLED":
            cost = {
                "requestedQueryCost": 101,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": 1,
                    "restoreRate": 100.0,
                },
            }
            return 200, {
                "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                "extensions": {"cost": cost},
            }
        if trouble == "MALFORMED":
            return 200, "<html>upstream error</html>"
        return int(trouble), {"errors": "try again"}

    def _operation(self, query: str, variables: dict[str, Any]) -> tuple[int, Any]:
        if "customerRequestDataErasure(" in query:
            return 200, {"data": {"customerRequestDataErasure": self._erase(variables)}}
        return self._other_operation(query, variables)

    def _other_operation(self, query: str, variables: dict[str, Any]) -> tuple[int, Any]:
        if "customerCreate" in query:
            return 200, {"data": {"customerCreate": self._create(variables.get("input", {}))}}
        if "customers(" in query:
            match = re.search(r'email:"([^"]*)"', variables.get("query", ""))
            nodes = [
                {"id": gid}
                for gid, values in self.customers.items()
                if match and values.get("email") == match.group(1)
            ]
            return 200, {"data": {"customers": {"nodes": nodes[:1]}}}
        if "storeCreditAccountCredit(" in query:
            result = self._mutation(variables, "credit", "creditInput", "creditAmount")
            return 200, {"data": {"storeCreditAccountCredit": result}}
        if "storeCreditAccountDebit(" in query:
            result = self._mutation(variables, "debit", "debitInput", "debitAmount")
            return 200, {"data": {"storeCreditAccountDebit": result}}
        if "storeCreditAccounts(" in query:
            return 200, {"data": {"customer": self._customer_credit(variables.get("id", ""))}}
        return 200, {"errors": [{"message": "Field doesn't exist on type 'QueryRoot'"}]}

    def _customer_credit(self, owner: str) -> dict[str, Any] | None:
        if owner not in self.customers:
            return None
        nodes = [
            {
                "id": gid,
                "balance": _money(account["balance"], account["currency"]),
                "transactions": {"nodes": list(reversed(account["transactions"]))},
            }
            for gid, account in self.credit_accounts.items()
            if account["owner"] == owner
        ]
        return {"storeCreditAccounts": {"nodes": nodes}}

    def _mutation(
        self, variables: dict[str, Any], kind: str, input_name: str, amount_name: str
    ) -> dict[str, Any]:
        owner = variables.get("id", "")
        money = (variables.get(input_name) or {}).get(amount_name) or {}
        if owner not in self.customers:
            error = {"field": ["id"], "message": "Owner does not exist", "code": "OWNER_NOT_FOUND"}
            return {"storeCreditAccountTransaction": None, "userErrors": [error]}
        if Decimal(str(money.get("amount", "0"))) <= 0:
            error = {
                "field": [input_name, amount_name, "amount"],
                "message": "A positive amount must be used",
                "code": "NEGATIVE_OR_ZERO_AMOUNT",
            }
            return {"storeCreditAccountTransaction": None, "userErrors": [error]}
        return self._move(owner, kind, money)

    def _move(self, owner: str, kind: str, money: dict[str, Any]) -> dict[str, Any]:
        currency = str(money.get("currencyCode"))
        amount = Decimal(str(money.get("amount")))
        account = next(
            (
                account
                for account in self.credit_accounts.values()
                if account["owner"] == owner and account["currency"] == currency
            ),
            None,
        )
        if account is None and kind == "debit":
            error = {
                "field": ["id"],
                "message": "Store credit account does not exist",
                "code": "ACCOUNT_NOT_FOUND",
            }
            return {"storeCreditAccountTransaction": None, "userErrors": [error]}
        if account is None:
            gid = f"gid://shopify/StoreCreditAccount/{9000000001 + len(self.credit_accounts)}"
            account = {"owner": owner, "currency": currency, "balance": "0", "transactions": []}
            self.credit_accounts[gid] = account
        balance = Decimal(account["balance"])
        if kind == "debit" and amount > balance:
            error = {
                "field": ["debitInput", "debitAmount", "amount"],
                "message": "The store credit account does not have sufficient funds",
                "code": "INSUFFICIENT_FUNDS",
            }
            return {"storeCreditAccountTransaction": None, "userErrors": [error]}
        balance = balance + amount if kind == "credit" else balance - amount
        account["balance"] = str(balance)
        number = sum(len(a["transactions"]) for a in self.credit_accounts.values())
        typename = "Credit" if kind == "credit" else "Debit"
        transaction = {
            "__typename": f"StoreCreditAccount{typename}Transaction",
            "id": f"gid://shopify/StoreCreditAccount{typename}Transaction/{500001 + number}",
            "amount": _money(str(amount if kind == "credit" else -amount), currency),
            "balanceAfterTransaction": _money(str(balance), currency),
            "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        account["transactions"].append(transaction)
        return {"storeCreditAccountTransaction": transaction, "userErrors": []}

    def _erase(self, variables: dict[str, Any]) -> dict[str, Any]:
        gid = str(variables.get("customerId", ""))
        if gid not in self.customers:
            error = {"field": ["customerId"], "message": "Customer does not exist"}
            return {"customerId": None, "userErrors": [{**error, "code": "DOES_NOT_EXIST"}]}
        self.erasure_requests.append(gid)
        return {"customerId": gid, "userErrors": []}

    def _create(self, given: dict[str, Any]) -> dict[str, Any]:
        if not (given.get("email") or given.get("phone") or given.get("lastName")):
            errors = [{"field": None, "message": "A name, phone number, or email is required"}]
            return {"customer": None, "userErrors": errors}
        if given.get("email") and any(
            values.get("email") == given["email"] for values in self.customers.values()
        ):
            errors = [{"field": ["email"], "message": "Email has already been taken"}]
            return {"customer": None, "userErrors": errors}
        return {"customer": {"id": self.add_customer(**given)}, "userErrors": []}


def _money(amount: str, currency: str) -> dict[str, str]:
    return {"amount": amount, "currencyCode": currency}


@contextmanager
def running_shopify() -> Iterator[FakeShopify]:
    fake = FakeShopify()

    def respond(path: str, headers: dict[str, str], body: Any) -> Answer:
        if path != PATH:
            return Answer(404, {"errors": "Not Found"}, {})
        status, answer = fake.answer(headers.get("x-shopify-access-token"), body)
        return Answer(status, answer, {"retry-after": "2"} if status == 429 else {})

    with serving(respond) as base_url:
        fake.base_url = base_url
        yield fake
