"""The admin console's pages, each timed in this process against the seeded store.

Run after the server has stopped, so nothing else shares the CPU: the ASGI app is called
in-process (no socket), and each page's time is the server's time to answer it. The goal
is 50 ms per page with 10,000 customers.
"""

from __future__ import annotations

import re
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from patron.api.app import create_app
from patron.core.db import Database
from patron.core.settings import Settings
from patron.staff import service as staff_service

with warnings.catch_warnings():  # Starlette's test client names a successor to httpx
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

GOAL_MS = 50.0
ROUNDS = 30
WARMUP = 3
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_PASSWORD = "bench-console-lantern-7"
Say = Callable[[str], None]


@dataclass
class PageTime:
    page: str
    path: str
    median_ms: float
    p95_ms: float
    ok: bool


def _csrf(html: str) -> str:
    found = _CSRF.search(html)
    if found is None:
        raise RuntimeError("a console page had no form token")
    return found.group(1)


def _log_in(client: TestClient, email: str, password: str) -> None:
    page = client.get("/admin/login")
    client.post(
        "/admin/login", data={"email": email, "password": password, "csrf": _csrf(page.text)}
    )
    form = client.get("/admin/password")
    answer = client.post(
        "/admin/password",
        data={
            "csrf": _csrf(form.text),
            "current_password": password,
            "password": _PASSWORD,
            "password_again": _PASSWORD,
        },
    )
    if answer.status_code != 200 or "Overview" not in answer.text:
        raise RuntimeError(f"could not log in to the console: {answer.status_code}")


def run_console(
    database_url: str, account_uuid: str, customer_uuid: str, word: str, say: Say
) -> list[PageTime]:
    """Each page's median and 95th percentile over ``ROUNDS`` requests."""
    db = Database(database_url, pool_size=2)
    app = create_app(Settings(database_url=database_url), db)
    created = staff_service.create_staff(
        db, account_uuid=account_uuid, email=f"bench-{time.time_ns()}@example.com", role="admin"
    )
    pages = {
        "overview": "/admin/",
        "overview (read now)": "/admin/?fresh=1",
        "customers (newest)": "/admin/customers",
        "customers (search)": f"/admin/customers?q={word}",
        "customer": f"/admin/customers/{customer_uuid}",
        "API tokens": "/admin/tokens",
        "webhooks": "/admin/webhooks",
        "settings": "/admin/settings",
        "staff": "/admin/staff",
    }
    found: list[PageTime] = []
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            _log_in(client, created.staff.email, created.password)
            for name, path in pages.items():
                times = []
                for round_ in range(WARMUP + ROUNDS):
                    started = time.perf_counter()
                    answer = client.get(path)
                    elapsed = (time.perf_counter() - started) * 1000
                    if answer.status_code != 200:
                        raise RuntimeError(f"console {path}: HTTP {answer.status_code}")
                    if round_ >= WARMUP:
                        times.append(elapsed)
                times.sort()
                median = statistics.median(times)
                p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
                found.append(
                    PageTime(name, path, round(median, 2), round(p95, 2), median <= GOAL_MS)
                )
                say(
                    f"  console {name}: median {median:.1f} ms, p95 {p95:.1f} ms "
                    f"({'within' if median <= GOAL_MS else 'ABOVE'} the {GOAL_MS:.0f} ms goal)"
                )
    finally:
        db.dispose()
    return found
