"""A small Shopify Admin GraphQL client: one POST per operation, every failure classified."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

from patron.accounts import settings as account_settings
from patron.core.errors import InvalidInput
from patron.core.sealing import seal, unseal
from patron.integrations.outbox.dispatcher import Dead, Outcome, Retry
from patron.integrations.waits import retry_after

API_VERSION = "2025-01"
SETTINGS_KEY = account_settings.SHOPIFY
_SHOP = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
# Failures before a byte of the request left: nothing can have been applied.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class ShopifyError(Exception):
    """A call that failed.

    ``retryable``: trying again later may help. ``in_doubt``: the request reached Shopify and
    may have been applied (a timeout after sending, a 5xx, a garbled answer), so a mutation
    must not simply be sent again. ``after``: the seconds Shopify asked to wait, if it did.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        in_doubt: bool = False,
        after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.in_doubt = in_doubt
        self.after = after


def as_outcome(error: ShopifyError) -> Outcome:
    """What the outbox does about a failed call: retry (after Shopify's wait) or give up."""
    return Retry(str(error), after=error.after) if error.retryable else Dead(str(error))


@dataclass(frozen=True, slots=True)
class ShopifyConnection:
    shop: str
    access_token: str
    # Only the operator sets this (``patron shopify connect --api-base``): a proxy or a test.
    api_base: str | None = None
    # GLOBAL credit entries are mirrored to the customer's Shopify store credit.
    mirror_store_credit: bool = False

    @property
    def endpoint(self) -> str:
        base = self.api_base.rstrip("/") if self.api_base else f"https://{self.shop}"
        return f"{base}/admin/api/{API_VERSION}/graphql.json"

    def as_setting(self, secret_key: str | None) -> dict[str, Any]:
        """What the account's settings keep: the token sealed when there is a secret key."""
        value: dict[str, Any] = {
            "shop": self.shop,
            "access_token": seal(self.access_token, secret_key),
        }
        if self.api_base:
            value["api_base"] = self.api_base
        if self.mirror_store_credit:
            value["mirror_store_credit"] = True
        return value


def clean_shop(shop: str) -> str:
    cleaned = shop.strip().lower().removeprefix("https://").rstrip("/")
    if not _SHOP.match(cleaned):
        raise InvalidInput("a Shopify shop is its <name>.myshopify.com domain", field="shop")
    return cleaned


def connection_from_settings(
    settings: dict[str, Any], secret_key: str | None
) -> ShopifyConnection | None:
    """The account's connection, None without one; CannotUnseal when its token won't open."""
    value = settings.get(SETTINGS_KEY)
    if not isinstance(value, dict) or not value.get("shop") or not value.get("access_token"):
        return None
    return ShopifyConnection(
        shop=str(value["shop"]),
        access_token=unseal(str(value["access_token"]), secret_key),
        api_base=str(value["api_base"]) if value.get("api_base") else None,
        mirror_store_credit=value.get("mirror_store_credit") is True,
    )


def _throttle_wait(body: dict[str, Any]) -> float | None:
    """How long until the query's cost is restored, from the answer's ``extensions.cost``."""
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        needed = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        rate = float(status["restoreRate"])
    except (KeyError, TypeError, ValueError):
        return None
    return max(1.0, needed / rate) if rate > 0 else None


@dataclass
class AdminApi:
    client: httpx.Client
    connection: ShopifyConnection

    def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of a successful answer, or ShopifyError."""
        try:
            response = self.client.post(
                self.connection.endpoint,
                json={"query": query, "variables": variables},
                headers={"X-Shopify-Access-Token": self.connection.access_token},
            )
        except _NEVER_SENT as error:
            raise ShopifyError(f"Shopify unreachable: {error!r}", retryable=True) from None
        except httpx.TimeoutException as error:
            raise ShopifyError(
                f"Shopify timed out: {type(error).__name__}", retryable=True, in_doubt=True
            ) from None
        except httpx.HTTPError as error:
            raise ShopifyError(
                f"Shopify unreachable: {error!r}", retryable=True, in_doubt=True
            ) from None
        status = response.status_code
        if status in (401, 403):
            raise ShopifyError(f"Shopify refused the access token (HTTP {status})", retryable=False)
        if status == 429:
            wait = retry_after(response.headers.get("retry-after"))
            raise ShopifyError("Shopify answered HTTP 429", retryable=True, after=wait)
        if status >= 500:
            raise ShopifyError(f"Shopify answered HTTP {status}", retryable=True, in_doubt=True)
        if status != 200:
            raise ShopifyError(f"Shopify answered HTTP {status}", retryable=False)
        try:
            body = response.json()
        except json.JSONDecodeError:
            raise ShopifyError(
                "Shopify sent a malformed (non-JSON) answer", retryable=True, in_doubt=True
            ) from None
        if not isinstance(body, dict):
            raise ShopifyError("Shopify sent a malformed answer", retryable=True, in_doubt=True)
        errors = body.get("errors")
        if errors:
            throttled = isinstance(errors, list) and any(
                isinstance(error, dict)
                and (error.get("extensions") or {}).get("code") == "THROTTLED"
                for error in errors
            )
            if throttled:
                raise ShopifyError(
                    "Shopify throttled the request (THROTTLED)",
                    retryable=True,
                    after=_throttle_wait(body),
                )
            raise ShopifyError(f"Shopify refused the query: {errors}"[:500], retryable=False)
        data = body.get("data")
        if not isinstance(data, dict):
            raise ShopifyError("Shopify sent an answer without data", retryable=True, in_doubt=True)
        return data
