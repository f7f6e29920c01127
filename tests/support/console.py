"""The admin console over real HTTP: staff users, a logged-in client, forms' tokens."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import httpx

from patron.core.db import Database
from patron.staff import service as staff_service
from tests.support.tenants import Tenant

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')
PASSWORD = "harbour-lantern-quiet-42"


@dataclass(frozen=True)
class Staff:
    staff_id: str
    email: str
    one_time_password: str


def make_staff(db: Database, tenant: Tenant, role: str) -> Staff:
    email = f"{role}-{secrets.token_hex(5)}@shop.example"
    created = staff_service.create_staff(db, account_uuid=tenant.uuid, email=email, role=role)
    return Staff(created.staff.staff_id, email, created.password)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has no form token"
    return found.group(1)


def form_key_of(html: str) -> str:
    found = _KEY.search(html)
    assert found is not None, "the page has no idempotency key"
    return found.group(1)


class Console:
    """One browser's worth of cookies; redirects are not followed, so tests see them."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return self.http.post(path, data=data)

    def login(self, email: str, password: str) -> httpx.Response:
        page = self.get("/admin/login")
        assert page.status_code == 200
        return self.post(
            "/admin/login", {"email": email, "password": password, "csrf": csrf_of(page.text)}
        )

    def login_as(self, staff: Staff) -> None:
        """Log in with the one-time password and choose the lasting one, as a person would."""
        answer = self.login(staff.email, staff.one_time_password)
        assert answer.status_code == 303, answer.text
        page = self.get("/admin/password")
        changed = self.post(
            "/admin/password",
            {
                "csrf": csrf_of(page.text),
                "current_password": staff.one_time_password,
                "password": PASSWORD,
                "password_again": PASSWORD,
            },
        )
        assert changed.status_code == 303, changed.text

    @property
    def session_cookie(self) -> str | None:
        return self.http.cookies.get("patron_console")
