"""``patron import from <vendor>``: each vendor's API as its document shows, paging, an error
half-way, resuming, and no doubling; on both stores."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from patron.accounts import service as accounts
from patron.cli.main import run
from patron.core.db import Database
from patron.customers.tables import customers
from patron.wallets.tables import credit_entries, wallets
from patron.wallets.verify import verify_ledger
from tests.support.fake_vendors import TOKEN, vendor_server

COUNT = 250  # three pages of 100
VENDORS = ["valuemapper", "lightfunnels", "open2b", "loyaltydish"]


def call(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, list[str]]:
    code = run(args)
    captured = capsys.readouterr()
    out = json.loads(captured.out) if captured.out.strip() else None
    return code, out, captured.err.splitlines()


def totals(db: Database, account_id: str) -> tuple[int, int, int, int]:
    with db.read() as connection:
        contacts = connection.execute(
            select(func.count()).select_from(customers).where(customers.c.account_id == account_id)
        ).scalar_one()
        money, points = connection.execute(
            select(
                func.coalesce(func.sum(wallets.c.global_balance), 0),
                func.coalesce(func.sum(wallets.c.local_balance), 0),
            ).where(wallets.c.account_id == account_id)
        ).one()
        entries = connection.execute(
            select(func.count())
            .select_from(credit_entries)
            .where(credit_entries.c.account_id == account_id)
        ).scalar_one()
    return int(contacts), int(money), int(points), int(entries)


def expected(vendor: str) -> tuple[int, int]:
    money = sum(int(Decimal(f"{i}.25") * 100) for i in range(COUNT))
    points = sum(i * 10 for i in range(COUNT))
    return {
        "valuemapper": (money, points),
        "loyaltydish": (0, points),
    }.get(vendor, (0, 0))


@pytest.fixture
def account(db: Database) -> str:
    return accounts.create_account(db, name="Mover")[0].uuid


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_migration_that_fails_half_way_resumes_and_doubles_nothing(
    vendor: str,
    db: Database,
    database_url: str,
    account: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    with vendor_server(vendor, COUNT, fail_at=2) as fake:
        args = [
            "import",
            "from",
            vendor,
            "--url",
            fake.url,
            "--token",
            TOKEN,
            "--account",
            account,
            "--database",
            database_url,
        ]

        code, out, err = call(args, capsys)

        assert code == 1
        assert out is None
        [line] = err
        error = json.loads(line)["error"]
        assert error["code"] == "VENDOR_ERROR"
        assert "HTTP 500" in error["message"]
        assert totals(db, account)[0] == 100  # the first page is written
        failed_requests = len(fake.requests)

        code, report, _ = call(args, capsys)

        assert code == 0, _
        assert report["created"] == COUNT - 100
        assert report["rejected"] == 0
        resumed_body = fake.requests[failed_requests]["body"]
        assert json.dumps(resumed_body) != json.dumps(fake.requests[0]["body"])  # not page 1
        contacts, money, points, entries = totals(db, account)
        assert contacts == COUNT
        assert (money, points) == expected(vendor)

        code, again, _ = call([*args, "--restart"], capsys)

        assert code == 0
        assert again["created"] == 0
        assert again["unchanged"] == COUNT
        assert totals(db, account) == (contacts, money, points, entries)
    assert verify_ledger(db).ok


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_bad_token_is_one_clear_line(
    vendor: str,
    db: Database,
    database_url: str,
    account: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    with vendor_server(vendor, 5) as fake:
        code, out, err = call(
            [
                "import",
                "from",
                vendor,
                "--url",
                fake.url,
                "--token",
                "wrong",
                "--account",
                account,
                "--database",
                database_url,
            ],
            capsys,
        )

    assert code == 1
    assert out is None
    [line] = err
    assert json.loads(line)["error"]["code"] == "VENDOR_REFUSED"
    assert "wrong" not in line
    assert totals(db, account)[0] == 0


def test_an_unreachable_url_is_one_clear_line(
    db: Database,
    database_url: str,
    account: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _out, err = call(
        [
            "import",
            "from",
            "valuemapper",
            "--url",
            "http://127.0.0.1:9/graphql",
            "--token",
            "t",
            "--account",
            account,
            "--database",
            database_url,
        ],
        capsys,
    )

    assert code == 1
    [line] = err
    assert json.loads(line)["error"]["code"] == "VENDOR_UNREACHABLE"
    assert "Traceback" not in line
