"""A local stand-in for Klaviyo's profile-import endpoint (JSON:API, with the revision header)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "pk_test_key"


def _error(status: int, detail: str) -> tuple[int, dict[str, Any]]:
    return status, {"errors": [{"status": status, "code": "invalid", "detail": detail}]}


@dataclass
class FakeKlaviyo:
    base_url: str = ""
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> attributes
    requests: list[dict[str, Any]] = field(default_factory=list)
    trouble: list[str] = field(default_factory=list)  # "429", "500", "400" or "MALFORMED"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        with self.lock:
            self.requests.append({"headers": headers, "body": body})
            if headers.get("authorization") != f"Klaviyo-API-Key {API_KEY}":
                return _error(401, "Incorrect authentication credentials.")
            if not headers.get("revision"):
                return _error(400, "Missing or invalid revision header.")
            if self.trouble:
                trouble = self.trouble.pop(0)
                if trouble == "MALFORMED":
                    return 200, "<html>bad gateway</html>"
                return _error(int(trouble), f"scripted {trouble}")
            return self._import(body.get("data") or {})

    def _import(self, data: dict[str, Any]) -> tuple[int, Any]:
        attributes = data.get("attributes") or {}
        if data.get("type") != "profile" or not (
            attributes.get("email")
            or attributes.get("phone_number")
            or attributes.get("external_id")
        ):
            return _error(400, "One of email, phone_number, or external_id is required.")
        found = data.get("id") or next(
            (
                key
                for key, known in self.profiles.items()
                if attributes.get("email") and known.get("email") == attributes["email"]
            ),
            None,
        )
        status = 200 if found in self.profiles else 201
        profile_id = found or f"01KLAVIYO{len(self.profiles):017d}"
        known = self.profiles.get(profile_id, {})
        merged = {**known, **attributes}
        if "properties" in attributes:  # properties are merged key by key, as Klaviyo does
            merged["properties"] = {**known.get("properties", {}), **attributes["properties"]}
        self.profiles[profile_id] = merged
        body = {"data": {"type": "profile", "id": profile_id, "attributes": attributes}}
        return status, body


@contextmanager
def running_klaviyo() -> Iterator[FakeKlaviyo]:
    fake = FakeKlaviyo()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {key.lower(): value for key, value in self.headers.items()}
            if self.path != "/api/profile-import":
                status, answer = _error(404, "Not found.")
            else:
                status, answer = fake.answer(headers, json.loads(raw))
            data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
            self.send_response(status)
            if status == 429:
                self.send_header("retry-after", "3")
            self.send_header("content-type", "application/vnd.api+json")
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
