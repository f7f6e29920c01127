from __future__ import annotations

from tests.support.client import Api
from tests.support.tenants import Tenant


def test_account_query_returns_the_tokens_account(api: Api, tenant: Tenant) -> None:
    data = api.data("{ account { uuid name currency } }", token=tenant.token)

    assert data == {"account": {"uuid": tenant.uuid, "name": "Test merchant", "currency": "USD"}}
