"""Migrating from another system through its own API: a page at a time, resumable.

Each vendor's client reads its customers (and the balances or points its API gives) the way
its documentation shows, with its paging and its authentication header, and turns them into
the rows a file import reads, with the vendor's id as ``external_id``. A page is imported in
one transaction together with the cursor reached, kept per source in the account's settings:
a run that stops (an error, Ctrl-C, kill -9) resumes from the last page written.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import Connection

from patron.accounts import settings as account_settings
from patron.accounts.principal import Principal
from patron.core.db import Database
from patron.core.errors import DomainError, InvalidInput
from patron.moving.files import RejectsFile, SourceRow
from patron.moving.importer import Importer, ImportReport

CURSORS_KEY = "import_cursors"
PAGE_SIZE = 100
VENDORS = ("valuemapper", "lightfunnels", "open2b", "loyaltydish")


class VendorError(DomainError):
    """The vendor's API could not be read: what it answered, never the token."""

    code = "VENDOR_ERROR"


class VendorUnreachable(VendorError):
    code = "VENDOR_UNREACHABLE"


class VendorRefused(VendorError):
    code = "VENDOR_REFUSED"


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[tuple[dict[str, Any], Any]]  # (import columns, the vendor's record)
    cursor: str | None  # where the next page starts
    last: bool


def check_url(url: str) -> str:
    given = url.strip().rstrip("/")
    parsed = httpx.URL(given) if given.startswith(("http://", "https://")) else None
    if parsed is None or not parsed.host:
        raise InvalidInput(f"--url must be an http(s) URL, got '{url}'", field="url")
    return given


class Client:
    """One vendor's API: POSTs of JSON, errors as ``VendorError``."""

    def __init__(self, http: httpx.Client, url: str, headers: dict[str, str]) -> None:
        self.http = http
        self.url = url
        self.headers = headers

    def post(self, url: str, body: dict[str, Any]) -> Any:
        try:
            response = self.http.post(url, json=body, headers=self.headers)
        except httpx.TimeoutException:
            raise VendorUnreachable(f"{url} did not answer in time") from None
        except httpx.HTTPError as error:
            raise VendorUnreachable(f"cannot reach {url}: {error}") from None
        if response.status_code in (401, 403):
            raise VendorRefused(
                f"{url} refused the token (HTTP {response.status_code}): check --token"
            )
        if response.status_code >= 400:
            raise VendorError(f"{url} answered HTTP {response.status_code}")
        try:
            return response.json(parse_float=Decimal)
        except ValueError:
            raise VendorError(f"{url} answered something that is not JSON") from None

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        answer = self.post(self.url, {"query": query, "variables": variables})
        if not isinstance(answer, dict):
            raise VendorError(f"{self.url} answered an unexpected document")
        errors = answer.get("errors")
        if errors:
            first = errors[0].get("message") if isinstance(errors[0], dict) else errors[0]
            raise VendorError(f"{self.url} answered an error: {first}")
        data = answer.get("data")
        if not isinstance(data, dict):
            raise VendorError(f"{self.url} answered no data")
        return data


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# ValueMapper (the native API's origin): contacts by limit and offset, with their wallets.
VALUEMAPPER_QUERY = """query GetContacts($limit: Int, $offset: Int) {
account {
contacts(limit: $limit, offset: $offset) {
uuid
name
email
phone
identities {
shopify
klaviyo
lightspeed
}
wallet {
uuid
globalCreditBalance
localCreditBalance
}
}
}
}"""


def _valuemapper(client: Client, cursor: str | None) -> Page:
    offset = int(cursor or 0)
    data = client.graphql(VALUEMAPPER_QUERY, {"limit": PAGE_SIZE, "offset": offset})
    contacts = (data.get("account") or {}).get("contacts")
    if not isinstance(contacts, list):
        raise VendorError(f"{client.url} answered no contacts list")
    rows = []
    for contact in contacts:
        identities = contact.get("identities") or {}
        wallet = contact.get("wallet") or {}
        rows.append(
            (
                {
                    "external_id": _text(contact.get("uuid")),
                    "name": _text(contact.get("name")),
                    "email": _text(contact.get("email")),
                    "phone": _text(contact.get("phone")),
                    "shopify_id": _text(identities.get("shopify")),
                    "klaviyo_id": _text(identities.get("klaviyo")),
                    "lightspeed_id": _text(identities.get("lightspeed")),
                    "global_balance": wallet.get("globalCreditBalance"),
                    "local_balance": wallet.get("localCreditBalance"),
                },
                contact,
            )
        )
    return Page(rows, str(offset + len(rows)), last=len(rows) < PAGE_SIZE)


# Lightfunnels: customers by cursor (first / after), keyset ordered by id.
LIGHTFUNNELS_QUERY = """query CustomersQuery($first: Int, $after: String, $query: String!){
customers(query: $query, after: $after, first: $first){
edges{
node{
id
_id
full_name
email
}
cursor
}
pageInfo{
endCursor
hasNextPage
}
}
}"""


def _connection(data: dict[str, Any], name: str, url: str) -> dict[str, Any]:
    # The documentation shows the connection either under its field or right under data.
    found = data.get(name, data)
    if not isinstance(found, dict) or not isinstance(found.get("edges"), list):
        raise VendorError(f"{url} answered no {name} connection")
    return found


def _relay_page(found: dict[str, Any], cursor: str | None, rows: list[Any]) -> Page:
    info = found.get("pageInfo") or {}
    end = info.get("endCursor") or cursor
    return Page(rows, end, last=not info.get("hasNextPage"))


def _lightfunnels(client: Client, cursor: str | None) -> Page:
    data = client.graphql(
        LIGHTFUNNELS_QUERY,
        {"first": PAGE_SIZE, "after": cursor, "query": "order_by:id order_dir:asc"},
    )
    found = _connection(data, "customers", client.url)
    rows = []
    for edge in found["edges"]:
        node = edge.get("node") or {}
        rows.append(
            (
                {
                    "external_id": _text(node.get("id")),
                    "name": _text(node.get("full_name")),
                    "email": _text(node.get("email")),
                },
                node,
            )
        )
    return _relay_page(found, cursor, rows)


# LoyaltyDish: consumers by relay cursor, with their points.
LOYALTYDISH_QUERY = """query Consumers($first: Int, $after: String) {
consumers(loyaltyId: "", phoneNumber_Icontains: "", email_Icontains: "", first: $first, after: $after) {
edges {
node {
pk
id
firstname
lastname
email
pointsEarned
phoneNumber
birthday
loyaltyId
}
cursor
}
pageInfo {
endCursor
hasNextPage
}
}
}"""  # noqa: E501


def _loyaltydish(client: Client, cursor: str | None) -> Page:
    data = client.graphql(LOYALTYDISH_QUERY, {"first": PAGE_SIZE, "after": cursor})
    found = _connection(data, "consumers", client.url)
    rows = []
    for edge in found["edges"]:
        node = edge.get("node") or {}
        rows.append(
            (
                {
                    "external_id": _text(node.get("id") or node.get("pk")),
                    "first_name": _text(node.get("firstname")),
                    "last_name": _text(node.get("lastname")),
                    "email": _text(node.get("email")),
                    "phone": _text(node.get("phoneNumber")),
                    "birthday": _text(node.get("birthday")),
                    "local_balance": node.get("pointsEarned"),
                },
                node,
            )
        )
    return _relay_page(found, cursor, rows)


# open2b commerce: contacts.find by identifier ("after" the last one read), sorted by id.
OPEN2B_FIELDS = ["id", "customer", "name", "phone", "email", "note"]


def _open2b(client: Client, cursor: str | None) -> Page:
    base = client.url if client.url.endswith("/api/v6") else f"{client.url}/api/v6"
    after = int(cursor or 0)
    answer = client.post(
        f"{base}/commerce.contacts.find",
        {
            "conditions": {"after": after} if after else {},
            "fields": OPEN2B_FIELDS,
            "order": ["id"],
            "limit": PAGE_SIZE,
        },
    )
    if not isinstance(answer, dict) or answer.get("status") != "ok":
        error = answer.get("error") if isinstance(answer, dict) else None
        described = (
            f"{error.get('type')} {error.get('field') or ''}: {error.get('description') or ''}"
            if isinstance(error, dict)
            else "an unexpected document"
        )
        raise VendorError(f"{base}/commerce.contacts.find answered {described.strip()}")
    contacts = answer.get("contacts")
    if not isinstance(contacts, list):
        raise VendorError(f"{base}/commerce.contacts.find answered no contacts list")
    rows = [
        (
            {
                "external_id": _text(contact.get("id")),
                "name": _text(contact.get("name")),
                "email": _text(contact.get("email")),
                "phone": _text(contact.get("phone")),
                "note": _text(contact.get("note")),
            },
            contact,
        )
        for contact in contacts
    ]
    last_id = max((int(contact.get("id") or 0) for contact in contacts), default=after)
    return Page(rows, str(last_id), last=len(rows) < PAGE_SIZE)


_PAGERS: dict[str, Callable[[Client, str | None], Page]] = {
    "valuemapper": _valuemapper,
    "lightfunnels": _lightfunnels,
    "open2b": _open2b,
    "loyaltydish": _loyaltydish,
}


def auth_headers(vendor: str, token: str) -> dict[str, str]:
    """Each vendor's own header: open2b's ``X-Key``, LoyaltyDish's ``JWT``, else Bearer."""
    if vendor == "open2b":
        return {"X-Key": token}
    if vendor == "loyaltydish":
        return {"Authorization": f"JWT {token}"}
    return {"Authorization": f"Bearer {token}"}


def saved_cursor(db: Database, principal: Principal, source: str) -> str | None:
    with db.read() as connection:
        cursors = account_settings.current(connection, principal.account_id).get(CURSORS_KEY)
    found = cursors.get(source) if isinstance(cursors, dict) else None
    return str(found) if found is not None else None


def _save_cursor(
    connection: Connection, *, principal: Principal, source: str, cursor: str | None
) -> None:
    current = account_settings.lock(connection, principal.account_id).get(CURSORS_KEY)
    cursors = dict(current) if isinstance(current, dict) else {}
    cursors[source] = cursor
    account_settings.change(connection, principal.account_id, {CURSORS_KEY: cursors})


def migrate(
    db: Database,
    principal: Principal,
    vendor: str,
    http: httpx.Client,
    *,
    url: str,
    token: str,
    source: str,
    restart: bool = False,
    rejects: RejectsFile | None = None,
    progress: Callable[[int], None] | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Read every page from the saved cursor (or the start) and import it; a vendor error
    stops the run after the pages already written, and is raised."""
    if vendor not in _PAGERS:
        raise InvalidInput(f"the vendor must be one of {', '.join(VENDORS)}", field="vendor")
    client = Client(http, check_url(url), auth_headers(vendor, token.strip()))
    importer = Importer(
        db,
        principal,
        source=source,
        match="external",
        dry_run=dry_run,
        rejects=rejects,
        batch_size=PAGE_SIZE * 10,
        progress=progress,
    )
    cursor = None if restart else saved_cursor(db, principal, importer.source)
    position = 0
    while True:
        page = _PAGERS[vendor](client, cursor)
        for values, record in page.rows:
            position += 1
            original = {"row": json.dumps(record, default=str)}
            importer.feed(SourceRow(position, values, original))
        cursor = page.cursor
        importer.flush(
            extra=None
            if dry_run
            else functools.partial(
                _save_cursor, principal=principal, source=importer.source, cursor=cursor
            )
        )
        if page.last or not page.rows:
            return importer.report
