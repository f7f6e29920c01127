"""Local stand-ins for the APIs Patron migrates from, answering as their documents show.

- ValueMapper: GraphQL ``account { contacts(limit, offset) }`` with identities and wallet
  balances, ``Authorization: Bearer <token>``.
- Lightfunnels: GraphQL ``customers(query, first, after)``, a keyset connection whose cursors
  are base64 of ``[id, id]``, ``Authorization: Bearer <token>``.
- LoyaltyDish: GraphQL ``consumers(..., first, after)``, a relay connection with
  ``pointsEarned``, ``Authorization: JWT <token>``.
- open2b commerce: ``POST /api/v6/commerce.contacts.find`` with ``conditions.after``,
  ``order``, ``limit``, answered ``{"status": "ok", "contacts": [...]}``, ``X-Key: <token>``.

``fail_at`` makes the n-th request (1-based, counted from the start) answer HTTP 500 once.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.json_server import Answer, serving

TOKEN = "vendor-token-123"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str) -> str:
    return base64.b64decode(text.encode()).decode()


@dataclass
class FakeVendor:
    vendor: str
    count: int
    fail_at: int | None = None
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # The people every vendor holds: number i has these.
    def person(self, i: int) -> dict[str, Any]:
        return {
            "email": f"person{i}@example.com",
            "first": f"First{i}",
            "last": f"Last{i}",
            "phone": f"+1415555{i:04d}",
            "money": f"{i}.25",
            "points": i * 10,
        }

    def respond(self, path: str, headers: dict[str, str], body: Any) -> Answer:
        with self.lock:
            self.requests.append({"path": path, "headers": headers, "body": body})
            number = len(self.requests)
            if self.fail_at is not None and number == self.fail_at:
                self.fail_at = None
                return Answer(500, {"error": "internal"}, {})
        expected = {
            "valuemapper": ("authorization", f"Bearer {TOKEN}"),
            "lightfunnels": ("authorization", f"Bearer {TOKEN}"),
            "loyaltydish": ("authorization", f"JWT {TOKEN}"),
            "open2b": ("x-key", TOKEN),
        }[self.vendor]
        if headers.get(expected[0]) != expected[1]:
            return Answer(401, {"errors": [{"message": "invalid token"}]}, {})
        return getattr(self, f"_{self.vendor}")(path, body)

    def _valuemapper(self, path: str, body: Any) -> Answer:
        variables = body.get("variables") or {}
        offset, limit = int(variables.get("offset") or 0), int(variables.get("limit") or 50)
        contacts = []
        for i in range(offset, min(offset + limit, self.count)):
            person = self.person(i)
            contacts.append(
                {
                    "uuid": f"00000000-0000-4000-8000-{i:012d}",
                    "name": f"{person['first']} {person['last']}",
                    "email": person["email"],
                    "phone": person["phone"],
                    "identities": {
                        "shopify": f"gid://shopify/Customer/{5000 + i}",
                        "klaviyo": None,
                        "lightspeed": None,
                    },
                    "wallet": {
                        "uuid": f"10000000-0000-4000-8000-{i:012d}",
                        "globalCreditBalance": float(person["money"]),
                        "localCreditBalance": person["points"],
                    },
                }
            )
        return Answer(200, {"data": {"account": {"contacts": contacts}}}, {})

    def _relay(self, after: str | None, first: int, cursor_of: Any) -> tuple[int, int]:
        start = 0
        if after:
            start = cursor_of(after) + 1
        return start, min(start + first, self.count)

    def _lightfunnels(self, path: str, body: Any) -> Answer:
        variables = body.get("variables") or {}
        start, end = self._relay(
            variables.get("after"),
            int(variables.get("first") or 25),
            lambda cursor: json.loads(_unb64(cursor))[0] - 1,
        )
        edges = [
            {
                "node": {
                    "id": _b64(f"Customer:{i + 1}"),
                    "_id": i + 1,
                    "full_name": f"{self.person(i)['first']} {self.person(i)['last']}",
                    "email": self.person(i)["email"],
                },
                "cursor": _b64(json.dumps([i + 1, i + 1])),
            }
            for i in range(start, end)
        ]
        info = {
            "endCursor": edges[-1]["cursor"] if edges else None,
            "hasNextPage": end < self.count,
        }
        return Answer(200, {"data": {"customers": {"edges": edges, "pageInfo": info}}}, {})

    def _loyaltydish(self, path: str, body: Any) -> Answer:
        variables = body.get("variables") or {}
        start, end = self._relay(
            variables.get("after"),
            int(variables.get("first") or 100),
            lambda cursor: int(_unb64(cursor).split(":")[1]),
        )
        edges = []
        for i in range(start, end):
            person = self.person(i)
            edges.append(
                {
                    "node": {
                        "pk": i + 1,
                        "id": _b64(f"UserNode:{i + 1}"),
                        "firstname": person["first"],
                        "lastname": person["last"],
                        "email": person["email"],
                        "pointsEarned": person["points"],
                        "phoneNumber": person["phone"],
                        "birthday": "1990-05-17",
                        "loyaltyId": f"L{i}",
                    },
                    "cursor": _b64(f"arrayconnection:{i}"),
                }
            )
        info = {
            "endCursor": edges[-1]["cursor"] if edges else None,
            "hasNextPage": end < self.count,
        }
        return Answer(200, {"data": {"consumers": {"edges": edges, "pageInfo": info}}}, {})

    def _open2b(self, path: str, body: Any) -> Answer:
        if path != "/api/v6/commerce.contacts.find":
            return Answer(404, {"status": "error"}, {})
        after = int((body.get("conditions") or {}).get("after") or 0)
        limit = int(body.get("limit") or 10)
        ids = [i + 1 for i in range(self.count) if i + 1 > after][:limit]
        contacts = [
            {
                "id": number,
                "customer": 37000 + number,
                "name": f"{self.person(number - 1)['first']} {self.person(number - 1)['last']}",
                "phone": self.person(number - 1)["phone"],
                "email": self.person(number - 1)["email"],
                "note": "",
            }
            for number in ids
        ]
        return Answer(200, {"status": "ok", "contacts": contacts}, {})


@contextmanager
def vendor_server(vendor: str, count: int, fail_at: int | None = None) -> Iterator[FakeVendor]:
    fake = FakeVendor(vendor, count, fail_at)
    with serving(fake.respond) as base:
        fake.url = base if vendor == "open2b" else f"{base}/graphql"
        yield fake
