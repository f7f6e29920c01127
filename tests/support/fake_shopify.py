"""A local stand-in for Shopify's Admin GraphQL API: the operations the connector uses.

It answers as the documentation describes: 401 for a wrong access token, ``userErrors`` for an
email that is taken, throttling as HTTP 429 or as a 200 with a ``THROTTLED`` error.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from patron.integrations.shopify.admin import API_VERSION

TOKEN = "shpat_test_token"
PATH = f"/admin/api/{API_VERSION}/graphql.json"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


@dataclass
class FakeShopify:
    base_url: str = ""
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)  # gid -> input
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Scripted trouble for the next requests: "429", "THROTTLED", "500" or "MALFORMED".
    trouble: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_customer(self, **values: Any) -> str:
        gid = f"gid://shopify/Customer/{7000000001 + len(self.customers)}"
        self.customers[gid] = values
        return gid

    def answer(self, token: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        with self.lock:
            self.requests.append({**body, "token": token})
            if token != TOKEN:
                return 401, {"errors": INVALID_TOKEN}
            if self.trouble:
                return self._trouble(self.trouble.pop(0))
            return self._operation(body.get("query", ""), body.get("variables") or {})

    def _trouble(self, trouble: str) -> tuple[int, Any]:
        if trouble == "THROTTLED":
            return 200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
        if trouble == "MALFORMED":
            return 200, "<html>upstream error</html>"
        return int(trouble), {"errors": "try again"}

    def _operation(self, query: str, variables: dict[str, Any]) -> tuple[int, Any]:
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
        return 200, {"errors": [{"message": "Field doesn't exist on type 'QueryRoot'"}]}

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


@contextmanager
def running_shopify() -> Iterator[FakeShopify]:
    fake = FakeShopify()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            if self.path != PATH:
                status, answer = 404, {"errors": "Not Found"}
            else:
                status, answer = fake.answer(
                    self.headers.get("X-Shopify-Access-Token"), json.loads(raw)
                )
            data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
