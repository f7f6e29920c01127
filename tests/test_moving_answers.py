"""``patron import`` and ``patron export`` refuse bad input with one line of JSON, never a
traceback, and write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from patron.accounts import service as accounts
from patron.cli.main import run
from patron.core.db import Database
from patron.customers.tables import customers

UNKNOWN = "8f0b2a51-52a4-4a4b-9d1e-3a2f4e7a9c10"


def refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    code = run(args)
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert "Traceback" not in captured.err
    [line] = captured.err.splitlines()
    error: dict[str, str] = json.loads(line)["error"]
    return error


@pytest.fixture
def account(db: Database) -> str:
    return accounts.create_account(db, name="Answers")[0].uuid


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.csv"
    path.write_text("email,name\na@example.com,A\n")
    return path


def _count(db: Database) -> int:
    with db.read() as connection:
        return int(connection.execute(select(func.count()).select_from(customers)).scalar_one())


def test_a_missing_file(
    database_url: str, account: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = refused(
        [
            "import",
            "contacts",
            str(tmp_path / "nope.csv"),
            "--account",
            account,
            "--database",
            database_url,
        ],
        capsys,
    )
    assert error == {"code": "INVALID", "message": f"no file at '{tmp_path / 'nope.csv'}'"}


def test_a_wrong_format_and_a_file_that_is_not_csv(
    db: Database,
    database_url: str,
    account: str,
    good: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = _count(db)
    base = ["--account", account, "--database", database_url]
    error = refused(["import", "contacts", str(good), *base, "--format", "xml"], capsys)
    assert error["message"] == "--format must be csv or jsonl, got 'xml'"
    odd = tmp_path / "odd.csv"
    odd.write_text("mail,surname\nx,y\n")
    error = refused(["import", "contacts", str(odd), *base], capsys)
    assert error["message"].startswith("the CSV file has unknown column 'mail'")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    error = refused(["import", "contacts", str(binary), *base], capsys)
    assert error["code"] == "INVALID"
    assert _count(db) == before


def test_an_unknown_account_and_a_missing_one(
    db: Database, database_url: str, good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts.create_account(db, name="First")  # two accounts, however the tests are ordered
    accounts.create_account(db, name="Second")
    error = refused(
        ["import", "contacts", str(good), "--account", UNKNOWN, "--database", database_url],
        capsys,
    )
    assert error == {"code": "NOT_FOUND", "message": f"no account with uuid '{UNKNOWN}'"}
    error = refused(["import", "contacts", str(good), "--database", database_url], capsys)
    assert error["message"].endswith("accounts: name one with --account UUID")
    error = refused(
        ["export", "contacts", "--account", UNKNOWN, "--database", database_url], capsys
    )
    assert error["code"] == "NOT_FOUND"


def test_bad_options(
    database_url: str, account: str, good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--account", account, "--database", database_url]
    assert (
        refused(["import", "contacts", str(good), *base, "--match", "phone"], capsys)["message"]
        == "--match must be email, shopify or external"
    )
    assert (
        refused(["import", "contacts", str(good), *base, "--source", " "], capsys)["message"]
        == "--source must be 1 to 100 characters"
    )
    assert refused(["export", "entries", *base, "--since", "yesterday"], capsys)[
        "message"
    ].startswith("--since must be an ISO 8601 date or time")
    assert (
        refused(["export", "entries", *base, "--format", "xls"], capsys)["message"]
        == "--format must be csv or jsonl, got 'xls'"
    )
    assert (
        refused(["export", "balances", *base, "--out", str(tmp_path)], capsys)["message"]
        == f"--out '{tmp_path}' is a directory"
    )
    assert refused(
        ["import", "from", "open2b", "--url", "ftp://x", "--token", "t", *base], capsys
    ) == {"code": "INVALID", "message": "--url must be an http(s) URL, got 'ftp://x'"}


def test_export_since_only_what_changed(
    db: Database, database_url: str, account: str, good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["import", "contacts", str(good), "--account", account, "--database", database_url])
    capsys.readouterr()

    run(
        [
            "export",
            "contacts",
            "--account",
            account,
            "--database",
            database_url,
            "--since",
            "2999-01-01",
            "--format",
            "jsonl",
        ]
    )
    later = capsys.readouterr().out
    run(
        [
            "export",
            "balances",
            "--account",
            account,
            "--database",
            database_url,
            "--since",
            "2000-01-01T00:00:00+00:00",
        ]
    )
    earlier = capsys.readouterr().out

    assert later == ""
    assert earlier.splitlines()[0] == (
        "email,shopify_id,klaviyo_id,lightspeed_id,external_id,global_balance,local_balance"
    )
    assert earlier.splitlines()[1].startswith("a@example.com,")
