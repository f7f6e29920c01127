"""The ``patron`` command, run as a user runs it: a separate process, JSON on stdout."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from patron.accounts import service as accounts
from patron.core.db import Database
from tests.support.client import Api

ACCOUNT = "{ account { uuid name currency } }"
CREATE = 'mutation { createContact(contact: {email: "cli@example.com"}) { success errors } }'


def patron(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "patron", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_migrate_creates_a_fresh_sqlite_store_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"

    first = patron("migrate", "--database", url, cwd=tmp_path)
    again = patron("migrate", "--database", url, cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    head = json.loads(first.stdout)["revision"]
    assert json.loads(first.stdout) == {
        "store": url,
        "from_revision": None,
        "revision": head,
        "migrated": True,
    }
    assert json.loads(again.stdout) == {
        "store": url,
        "from_revision": head,
        "revision": head,
        "migrated": False,
    }
    with sqlite3.connect(tmp_path / "fresh.db") as connection:
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    assert {"accounts", "api_tokens", "customers", "identities", "wallets"} <= tables
    assert {"credit_entries", "outbox_events", "audit_events", "alembic_version"} <= tables
    assert not (tmp_path / "patron.db").exists()


def test_migrate_runs_against_the_test_store(database_url: str, tmp_path: Path) -> None:
    result = patron("migrate", "--database", database_url, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["store"] == database_url
    assert printed["from_revision"] == printed["revision"]
    assert printed["migrated"] is False


def test_account_and_token_commands_print_json_and_drive_the_api(
    database_url: str, api: Api, tmp_path: Path
) -> None:
    store = ("--database", database_url)

    account = json_of(
        patron("account", "create", "--name", "CLI shop", "--currency", "eur", *store, cwd=tmp_path)
    )
    reader = json_of(
        patron(
            "token", "create", "--account", account["uuid"], "--scope", "read", *store, cwd=tmp_path
        )
    )
    tokens = json_of(patron("token", "list", "--account", account["uuid"], *store, cwd=tmp_path))
    all_accounts = json_of(patron("account", "list", *store, cwd=tmp_path))

    assert set(account) == {
        "uuid",
        "name",
        "currency",
        "points_precision",
        "token",
        "token_id",
        "scope",
    }
    assert (
        account["name"],
        account["currency"],
        account["points_precision"],
        account["scope"],
    ) == (
        "CLI shop",
        "EUR",
        0,
        "admin",
    )
    assert account["token"].startswith("patron_")
    assert reader == {
        "token": reader["token"],
        "token_id": reader["token_id"],
        "account": account["uuid"],
        "scope": "read",
    }
    assert [(t["token_id"], t["scope"], t["revoked_at"]) for t in tokens] == [
        (account["token_id"], "admin", None),
        (reader["token_id"], "read", None),
    ]
    assert account["token"] not in json.dumps(tokens)
    assert reader["token"] not in json.dumps(tokens)
    [mine] = [listed for listed in all_accounts if listed["uuid"] == account["uuid"]]
    times = ("created_at", "updated_at")
    assert {key: value for key, value in mine.items() if key not in times} == {
        "uuid": account["uuid"],
        "number": mine["number"],
        "name": "CLI shop",
        "currency": "EUR",
        "points_precision": 0,
        "settings": {},
    }
    assert isinstance(mine["number"], int)
    assert mine["number"] >= 1
    assert datetime.fromisoformat(mine["created_at"]).utcoffset() == timedelta(0)
    assert mine["updated_at"] == mine["created_at"]
    assert api.data(ACCOUNT, token=account["token"]) == {
        "account": {"uuid": account["uuid"], "name": "CLI shop", "currency": "EUR"}
    }
    assert api.data(ACCOUNT, token=reader["token"])["account"]["uuid"] == account["uuid"]
    assert api.data(CREATE, token=reader["token"]) == {
        "createContact": {
            "success": False,
            "errors": ["this token has the 'read' scope; this operation needs 'write'"],
        }
    }

    revoked = json_of(patron("token", "revoke", reader["token_id"], *store, cwd=tmp_path))
    write = api.post("/graphql", {"query": CREATE}, token=reader["token"])
    time.sleep(1.05)  # a read may use the token's principal for a second (the README says so)
    response = api.post("/graphql", {"query": ACCOUNT}, token=reader["token"])

    assert (revoked["token_id"], revoked["scope"]) == (reader["token_id"], "read")
    assert revoked["revoked_at"] is not None
    assert write.status_code == 401
    assert response.status_code == 401
    assert response.json() == {
        "errors": [
            {
                "message": "the API token has been revoked",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }
    assert api.data(ACCOUNT, token=account["token"])["account"]["uuid"] == account["uuid"]


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("cli")
    url = f"sqlite:///{folder / 'cli.db'}"
    result = patron("migrate", "--database", url, cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder, url


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ("token", "create", "--account", "no-such-account"),
            {"code": "NOT_FOUND", "message": "no account with uuid 'no-such-account'"},
        ),
        (
            ("token", "revoke", "no-such-token"),
            {"code": "NOT_FOUND", "message": "no token with id 'no-such-token'"},
        ),
        (
            ("account", "create", "--name", "   "),
            {"code": "INVALID", "message": "name must be 1 to 200 characters"},
        ),
    ],
)
def test_a_refused_command_exits_1_with_a_json_error(
    cli_store: tuple[Path, str], args: tuple[str, ...], error: dict[str, str]
) -> None:
    folder, url = cli_store

    result = patron(*args, "--database", url, cwd=folder)

    assert result.returncode == 1
    assert result.stdout == ""
    assert json.loads(result.stderr) == {"error": error}


def test_patron_database_url_is_the_default_store(cli_store: tuple[Path, str]) -> None:
    folder, url = cli_store

    created = json_of(
        patron(
            "account", "create", "--name", "From env", cwd=folder, env={"PATRON_DATABASE_URL": url}
        )
    )

    store = Database(url, pool_size=1)
    try:
        listed = accounts.list_accounts(store)
    finally:
        store.dispose()
    assert created["uuid"] in [account.uuid for account in listed]
    assert not (folder / "patron.db").exists()
