"""A local stand-in for Klaviyo's profile-import endpoint (JSON:API, with the revision header)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.json_server import Answer, serving

API_KEY = "pk_test_key"


def _error(status: int, detail: str) -> tuple[int, dict[str, Any]]:
    return status, {"errors": [{"status": status, "code": "invalid", "detail": detail}]}


@dataclass
class FakeKlaviyo:
    base_url: str = ""
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> attributes
    requests: list[dict[str, Any]] = field(default_factory=list)
    trouble: list[str] = field(default_factory=list)  # "429", "500", "400" or "MALFORMED"
    # Profile ids whose deletion was requested (the Data Privacy API), in order.
    deletions: list[str] = field(default_factory=list)
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
            data = body.get("data") or {}
            if data.get("type") == "data-privacy-deletion-job":
                return self._delete(data)
            return self._import(data)

    def _delete(self, data: dict[str, Any]) -> tuple[int, Any]:
        profile = ((data.get("attributes") or {}).get("profile") or {}).get("data") or {}
        if profile.get("type") != "profile" or not profile.get("id"):
            return _error(400, "One of email, phone_number, or id is required.")
        self.deletions.append(str(profile["id"]))
        self.profiles.pop(str(profile["id"]), None)
        return 202, None

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

    def respond(path: str, headers: dict[str, str], body: Any) -> Answer:
        if path not in ("/api/profile-import", "/api/data-privacy-deletion-jobs"):
            return Answer(*_error(404, "Not found."), {})
        status, answer = fake.answer(headers, body)
        return Answer(status, answer, {"retry-after": "3"} if status == 429 else {})

    with serving(respond, "application/vnd.api+json") as base_url:
        fake.base_url = base_url
        yield fake
