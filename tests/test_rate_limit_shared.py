"""The rate limit is one budget per key and minute for every process on the store: limiters of
several processes (here, several instances on one store) admit at most the limit together,
taking it from the store in blocks rather than one write per request."""

from __future__ import annotations

import secrets
import threading

from sqlalchemy import func, select

from patron.api.ratelimit import RateLimiter
from patron.core import rate_windows
from patron.core.db import Database
from tests.support.tenants import Tenant

NOW = 60 * 29_000_000 + 5.0  # a fixed minute


def _limiters(db: Database, count: int, per_minute: int, calls: list[int]) -> list[RateLimiter]:
    def claim(account_id: str, key: str, window: int, block: int, limit: int) -> int:
        calls.append(block)
        return rate_windows.claim(db, account_id, key, window, block, limit)

    return [RateLimiter(per_minute, db, claim=claim, clock=lambda: NOW) for _ in range(count)]


def test_processes_share_one_budget_and_refuse_past_it(db: Database, tenant: Tenant) -> None:
    calls: list[int] = []
    first, second = _limiters(db, 2, 100, calls)
    key = f"token-{secrets.token_hex(4)}"
    admitted = 0
    for n in range(300):
        limiter = first if n % 3 else second
        if limiter.check(tenant.uuid, key) is None:
            admitted += 1

    # Blocks of 2: each process wastes at most one unused request of the budget.
    assert 98 <= admitted <= 100
    assert first.check(tenant.uuid, key) == 55  # seconds to the next minute
    # Another key, and another account with the same key, have budgets of their own.
    assert first.check(tenant.uuid, key + "-other") is None
    assert second.check("another-account", key) is None
    # The store was asked once a block, and once more by each process to learn it was spent.
    assert len(calls) <= 100 // 2 + 4


def test_concurrent_processes_never_admit_more_than_the_limit(db: Database, tenant: Tenant) -> None:
    calls: list[int] = []
    limiters = _limiters(db, 4, 400, calls)  # blocks of 8
    key = f"token-{secrets.token_hex(4)}"
    admitted: list[int] = []
    lock = threading.Lock()

    def hammer(limiter: RateLimiter) -> None:
        mine = sum(1 for _ in range(200) if limiter.check(tenant.uuid, key) is None)
        with lock:
            admitted.append(mine)

    threads = [threading.Thread(target=hammer, args=(limiter,)) for limiter in limiters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert 400 - 4 * 7 <= sum(admitted) <= 400
    with db.read() as connection:
        used = connection.execute(
            select(rate_windows.rate_limit_windows.c.used).where(
                rate_windows.rate_limit_windows.c.key == key
            )
        ).scalar_one()
    assert used >= 400


def test_a_busy_key_costs_the_store_a_write_per_block_not_per_request(
    db: Database, tenant: Tenant
) -> None:
    calls: list[int] = []
    [limiter] = _limiters(db, 1, 50_000, calls)  # blocks of 1,000
    key = f"token-{secrets.token_hex(4)}"

    assert all(limiter.check(tenant.uuid, key) is None for _ in range(5_000))
    assert calls == [1_000] * 5


def test_windows_past_are_forgotten(db: Database, tenant: Tenant) -> None:
    key = f"token-{secrets.token_hex(4)}"
    old = int(NOW // 60) - 5
    assert rate_windows.claim(db, tenant.uuid, key, old, 1, 10) == 1
    limiter = RateLimiter(10, db, clock=lambda: NOW)

    assert limiter.check(tenant.uuid, key) is None

    table = rate_windows.rate_limit_windows
    with db.read() as connection:
        windows = connection.execute(
            select(table.c.minute, func.count()).where(table.c.key == key).group_by(table.c.minute)
        ).all()
    assert [minute for minute, _ in windows] == [int(NOW // 60)]


def test_off_asks_nothing(db: Database, tenant: Tenant) -> None:
    calls: list[int] = []
    [limiter] = _limiters(db, 1, 0, calls)
    assert all(limiter.check(tenant.uuid, "k") is None for _ in range(100))
    assert calls == []


def test_a_request_is_admitted_locally_only_from_a_block_already_claimed(
    db: Database, tenant: Tenant
) -> None:
    calls: list[int] = []
    [limiter] = _limiters(db, 1, 10, calls)
    key = f"token-{secrets.token_hex(4)}"

    assert not limiter.admit_locally(tenant.uuid, key)  # nothing claimed yet: ``check`` claims
    admitted = 0
    for _ in range(20):
        if limiter.admit_locally(tenant.uuid, key) or limiter.check(tenant.uuid, key) is None:
            admitted += 1

    # Local admissions come out of the claimed blocks: the limit holds exactly.
    assert admitted == 10
    assert sum(calls) >= 10
    assert not limiter.admit_locally(tenant.uuid, key)
    assert RateLimiter(0, db).admit_locally(tenant.uuid, key)  # off: always admitted
