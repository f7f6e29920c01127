"""The worker's handlers share one account read per account per few seconds."""

from __future__ import annotations

import pytest

from patron.accounts import service as accounts
from patron.core.db import Database
from patron.integrations.accounts import AccountCache
from tests.support.tenants import Tenant


def test_an_account_is_read_once_while_fresh_and_a_missing_one_is_none(
    db: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    read = accounts.get_account

    def counted(db: Database, account_uuid: str) -> accounts.Account:
        reads.append(account_uuid)
        return read(db, account_uuid)

    monkeypatch.setattr(accounts, "get_account", counted)
    fresh = AccountCache(db, seconds=60)
    expired = AccountCache(db, seconds=0)
    missing = "7b0c0e55-0000-4000-8000-000000000000"

    found = [fresh.get(tenant.uuid) for _ in range(100)]
    gone = [fresh.get(missing) for _ in range(3)]
    expired.get(tenant.uuid)
    expired.get(tenant.uuid)

    assert all(account is not None and account.uuid == tenant.uuid for account in found)
    assert gone == [None, None, None]
    assert reads == [tenant.uuid, missing, tenant.uuid, tenant.uuid]
