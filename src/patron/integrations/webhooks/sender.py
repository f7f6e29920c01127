"""Signed webhook delivery over HTTP, with timeouts and a guard against private addresses."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import certifi
import httpx

from patron.core.db import Database
from patron.core.errors import DomainError
from patron.integrations.outbox.dispatcher import (
    DELIVERED,
    BatchOutcome,
    Dead,
    Delivered,
    Outcome,
    Retry,
)
from patron.integrations.outbox.store import OutboxEvent
from patron.integrations.waits import retry_after
from patron.webhooks import service as webhooks
from patron.webhooks import signing
from patron.webhooks.addresses import ALLOW_PRIVATE_HINT, UrlPolicy, checked_url, is_public
from patron.webhooks.events import webhook_event
from patron.webhooks.models import DeliveryResult, Subscription, WebhookTarget

# The same certificate authorities as every other client of Patron's (httpx uses certifi's).
_TLS = ssl.create_default_context(cafile=certifi.where())
MAX_ERROR_LENGTH = 500
# A receiver's answer is read up to this much, then the connection is dropped.
MAX_RESPONSE_BYTES = 64 * 1024
Resolver = Callable[[str, int], list[str]]
log = logging.getLogger("patron.webhooks")


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def envelope(event: OutboxEvent, name: str, body_format: str = "PATRON") -> bytes:
    """The body sent: Patron's (``type`` the webhook event's name, ``CONTACT_CREATED``), or
    the seed vendor's (``VALUEMAPPER``: ``id`` ``evt_<event id>``, ``type`` its dotted name,
    ``contact.created``, ``timestamp`` ISO-8601 UTC with ``Z``). Both carry the same ``data``."""
    if body_format == "VALUEMAPPER":
        body = {
            "id": "evt_" + event.event_id.replace("-", ""),
            "type": event.event_type,
            "timestamp": event.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "account_uuid": event.account_id,
            "data": event.payload,
        }
    else:
        body = {
            "id": event.event_id,
            "type": name,
            "timestamp": event.created_at.isoformat(),
            "account_uuid": event.account_id,
            "data": event.payload,
        }
    return json.dumps(body, separators=(",", ":"), sort_keys=True, default=str).encode()


def _retryable_status(status: int) -> bool:
    return status >= 500 or status in (408, 429)


@dataclass(frozen=True, slots=True)
class _Route:
    """Where a request goes: the URL to open, its Host header and the TLS server name."""

    url: str
    host_header: str | None = None
    server_hostname: str | None = None


@dataclass(frozen=True, slots=True)
class _Planned:
    index: int
    event: OutboxEvent
    name: str
    targets: list[WebhookTarget]
    # Why the account's webhooks could not be read: the event is retried, the batch goes on.
    error: str | None = None


@dataclass
class WebhookSender:
    """An outbox handler: each event of a batch to each subscribed webhook that has not had it
    yet, many requests in flight at once on keep-alive connections.

    ``client`` is the worker's HTTP client for the other handlers; its timeouts apply here too.
    Unless private addresses are allowed, a webhook's host is resolved once per request and the
    request goes to the address that was checked (with the original Host header, and the host
    name for TLS), so a second DNS answer cannot send it elsewhere.

    Whatever goes wrong with one webhook (a URL stored before today's checks, an error nobody
    foresaw) is that webhook's failed attempt, logged and retried like a network error; it
    never holds back the rest of the batch, other accounts' events included.
    """

    db: Database
    client: httpx.Client
    policy: UrlPolicy
    secret_key: str | None = None  # opens the webhooks' sealed secrets
    resolver: Resolver = resolve
    clock: Callable[[], float] = time.time
    # Subscriptions (and a webhook host's addresses) are read once per this many seconds, not
    # once per event: a new or changed webhook takes effect within it.
    cache_seconds: float = 2.0
    # Which resolved addresses may be called (tests stand a loopback address in for a public one).
    allowed_address: Callable[[str], bool] = is_public
    _cache: dict[str, tuple[float, list[Subscription]]] = field(default_factory=dict)
    _addresses: dict[tuple[str, int], tuple[float, list[str]]] = field(default_factory=dict)
    _session: aiohttp.ClientSession | None = None

    async def deliver(
        self,
        events: Sequence[OutboxEvent],
        last: Sequence[bool],
        concurrency: int,
        plan: object,
    ) -> BatchOutcome:
        plans = cast(list[_Planned], plan)
        outcomes: list[Outcome] = [DELIVERED] * len(events)
        for one in plans:
            if one.error is not None:
                outcomes[one.index] = Retry(one.error)
        plans = [one for one in plans if one.error is None]
        if not plans:
            return BatchOutcome(outcomes)
        session = self._open(concurrency)
        jobs = [
            (number, one, target, envelope(one.event, one.name, target.format))
            for number, one in enumerate(plans)
            for target in one.targets
        ]
        sent: list[list[tuple[DeliveryResult, float | None]]] = [[] for _ in plans]
        queue = iter(jobs)
        # Checked once per batch and URL, not once per request.
        urls = {target.url for one in plans for target in one.targets}
        routes = {url: await self._checked_route(url) for url in urls}

        async def worker() -> None:  # ``concurrency`` of these share the queue
            for number, one, target, body in queue:
                last_attempt = last[one.index]
                try:
                    done = await self._send(
                        session, routes[target.url], target, one.event.event_id, body, last_attempt
                    )
                except Exception as error:  # this webhook's failure, not the batch's
                    problem = _describe(error, target.url)
                    log.warning(
                        "webhook %s: event %s not sent: %s",
                        target.uuid,
                        one.event.event_id,
                        problem,
                    )
                    done = _result(target, last_attempt, True, problem), None
                sent[number].append(done)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(jobs)))))
        attempts = []
        for one, results in zip(plans, sent, strict=True):
            attempt, outcomes[one.index] = _outcome(one, results)
            attempts.append(attempt)
        return BatchOutcome(
            outcomes, lambda connection: webhooks.record_results_in(connection, attempts)
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def plan(self, events: Sequence[OutboxEvent]) -> list[_Planned]:
        """The batch's subscribed webhooks, less those that already had an event: one query."""
        wanted: list[tuple[int, OutboxEvent, str, list[WebhookTarget]]] = []
        plans = []
        unreadable: dict[str, str] = {}  # account -> why its webhooks could not be read
        for index, event in enumerate(events):
            name = webhook_event(event.event_type)
            if name is None:
                continue
            if event.account_id not in unreadable:
                try:
                    subscribed = self._subscriptions(event.account_id)
                except Exception as error:  # one account's webhooks, not the whole batch
                    problem = f"webhooks not readable: {_describe(error)}"
                    log.warning("account %s: %s", event.account_id, problem)
                    unreadable[event.account_id] = problem
            if event.account_id in unreadable:
                plans.append(_Planned(index, event, name, [], unreadable[event.account_id]))
                continue
            found = [s.target for s in subscribed if name in s.events]
            if found:
                wanted.append((index, event, name, found))
        finished = webhooks.finished_deliveries(
            self.db, [(event.account_id, event.event_id) for _, event, _, _ in wanted]
        )
        for index, event, name, found in wanted:
            done = finished[(event.account_id, event.event_id)]
            targets = [target for target in found if target.uuid not in done]
            if targets:
                plans.append(_Planned(index, event, name, targets))
        return plans

    def _subscriptions(self, account_id: str) -> list[Subscription]:
        now = time.monotonic()
        cached = self._cache.get(account_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = webhooks.subscriptions(self.db, account_id, self.secret_key)
        self._cache[account_id] = (now + self.cache_seconds, found)
        return found

    def _open(self, concurrency: int) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = self.client.timeout
            read = timeout.read or timeout.write or 10.0
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=max(concurrency, 1), limit_per_host=0, ssl=_TLS
                ),
                timeout=aiohttp.ClientTimeout(total=read, connect=timeout.connect or read),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
        return self._session

    async def _send(
        self,
        session: aiohttp.ClientSession,
        route: _Route | tuple[str, bool],
        target: WebhookTarget,
        event_id: str,
        body: bytes,
        last_attempt: bool,
    ) -> tuple[DeliveryResult, float | None]:
        """The result, and how long the receiver asked to be left alone (Retry-After)."""

        def result(
            retryable: bool, error: str | None, status: int | None = None, ms: int | None = None
        ) -> DeliveryResult:
            return _result(target, last_attempt, retryable, error, status, ms)

        if isinstance(route, tuple):
            return result(route[1], route[0]), None
        headers = signing.headers(
            target.secret, event_id, int(self.clock()), body, target.previous_secret
        )
        headers["content-type"] = "application/json"
        headers["user-agent"] = "Patron-Webhooks/1"
        if route.host_header is not None:
            headers["host"] = route.host_header
        started = time.monotonic()
        try:
            async with session.post(
                route.url,
                data=body,
                headers=headers,
                allow_redirects=False,
                server_hostname=route.server_hostname,
            ) as response:
                await response.content.read(MAX_RESPONSE_BYTES)
                status = response.status
                wait = response.headers.get("retry-after")
        except TimeoutError as error:
            return result(True, f"timed out: {type(error).__name__}", ms=_ms(started)), None
        except aiohttp.ClientConnectorError as error:
            return result(True, f"ConnectError: {error}", ms=_ms(started)), None
        except aiohttp.ClientError as error:
            return result(True, f"{type(error).__name__}: {error}", ms=_ms(started)), None
        elapsed = _ms(started)
        if 200 <= status < 300:
            return result(False, None, status, elapsed), None
        after = retry_after(wait, self.clock()) if status in (429, 503) and wait else None
        return result(_retryable_status(status), f"HTTP {status}", status, elapsed), after

    async def _checked_route(self, url: str) -> _Route | tuple[str, bool]:
        """``_route``, and an error nobody foresaw as a failure that may pass."""
        try:
            return await self._route(url)
        except Exception as error:
            problem = _describe(error, url)
            log.warning("webhook URL not usable: %s", problem)
            return problem, True

    async def _route(self, url: str) -> _Route | tuple[str, bool]:
        """Where to send, or why this URL may not be called now and whether that may pass.

        The URL is checked again as at creation (a webhook stored before today's checks is
        refused here), and each address its host resolves to is judged the same way.
        """
        try:
            checked = checked_url(url, self.policy)
        except DomainError as error:
            return f"refused: {error.message}", False
        if self.policy.allow_private:
            return _Route(url)
        host = checked.host
        try:
            addresses = (
                [host] if checked.address is not None else await self._resolve(host, checked.port)
            )
        except OSError as error:
            return f"cannot resolve {host}: {error}", True
        private = [address for address in addresses if not self.allowed_address(address)]
        if private or not addresses:
            found = ", ".join(private)
            return (
                f"refused: {host} resolves to a private address ({found}); {ALLOW_PRIVATE_HINT}",
                False,
            )
        return pinned(url, addresses[0], host)

    async def _resolve(self, host: str, port: int) -> list[str]:
        """The host's addresses, asked again at most every ``cache_seconds``: the request goes
        to a checked address either way, the cache only spares a lookup per request."""
        now = time.monotonic()
        cached = self._addresses.get((host, port))
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await asyncio.to_thread(self.resolver, host, port)
        self._addresses[(host, port)] = (now + self.cache_seconds, found)
        return found


def _outcome(
    plan: _Planned, sent: list[tuple[DeliveryResult, float | None]]
) -> tuple[webhooks.Attempt, Outcome]:
    """The event's log line and outcome from what each of its webhooks answered."""
    event = plan.event
    results = [result for result, _ in sent]
    attempt = webhooks.Attempt(event.account_id, event.event_id, plan.name, results)
    retrying = [result for result in results if result.status == "retrying"]
    failed = [result for result in results if result.status == "failed"]
    if retrying:
        waits = [after for _, after in sent if after is not None]
        return attempt, Retry(_summary(retrying), max(waits) if waits else None)
    if failed:
        return attempt, Dead(_summary(failed))
    return attempt, Delivered()


def pinned(url: str, address: str, host: str | None = None) -> _Route:
    """The URL with its host replaced by ``address``; the name (``host``, the ASCII form of
    the URL's) goes in Host and, for https, in the TLS server name, so the certificate is
    still checked against the host name."""
    parts = urlsplit(url)
    host = host or parts.hostname or ""
    if _is_address(host):
        return _Route(url)
    literal = f"[{address}]" if ":" in address else address
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    return _Route(
        urlunsplit(parts._replace(netloc=netloc)),
        host_header,
        host if parts.scheme == "https" else None,
    )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _result(
    target: WebhookTarget,
    last_attempt: bool,
    retryable: bool,
    error: str | None,
    status: int | None = None,
    ms: int | None = None,
) -> DeliveryResult:
    if error is None:
        outcome = "delivered"
    else:
        outcome = "retrying" if retryable and not last_attempt else "failed"
    clipped = error[:MAX_ERROR_LENGTH] if error else None
    return DeliveryResult(target.uuid, outcome, status, ms, clipped)


def _describe(error: BaseException, url: str | None = None) -> str:
    """An unforeseen error in a line, the URL's query (where tokens hide) left out."""
    text = f"{type(error).__name__}: {error}"
    if url:
        try:
            parts = urlsplit(url)
            shown = urlunsplit(
                parts._replace(netloc=parts.netloc.rpartition("@")[2], query="", fragment="")
            )
        except ValueError:
            shown = "the webhook's URL"
        text = text.replace(url, shown)
    return text[:MAX_ERROR_LENGTH]


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _summary(results: list[DeliveryResult]) -> str:
    return "; ".join(f"webhook {result.webhook_uuid}: {result.error}" for result in results)


def http_client(timeout_seconds: float) -> httpx.Client:
    """No redirects (a redirect could lead past the address guard) and a bounded timeout."""
    options: dict[str, Any] = {
        "timeout": httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0)),
        "follow_redirects": False,
        "limits": httpx.Limits(max_connections=32, max_keepalive_connections=16),
    }
    return httpx.Client(**options)
