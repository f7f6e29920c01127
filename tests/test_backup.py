"""``patron backup`` / ``patron restore``: an online copy of the SQLite store taken under SPEND
load holds every write acknowledged before it began and verifies; restore refuses to replace
a store without --force and anything that is not a Patron store; PostgreSQL gets its recipe."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from patron.core import migrate
from patron.core.db import Database
from patron.wallets import service as wallets
from patron.wallets.models import EntryCommand
from tests.support.tenants import fund, make_contact, new_tenant

pytestmark = pytest.mark.slow


def patron(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    return subprocess.run(
        [sys.executable, "-m", "patron", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def entry_uuids(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        return {row[0] for row in connection.execute("SELECT uuid FROM credit_entries")}


def new_store(path: Path) -> str:
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    return url


def test_a_backup_under_spend_load_holds_every_acknowledged_write_and_verifies(
    tmp_path: Path,
) -> None:
    url = new_store(tmp_path / "live.db")
    db = Database(url, pool_size=8)
    tenant = new_tenant(db)
    wallet_uuids = [make_contact(db, tenant).wallet_uuid for _ in range(4)]
    for wallet_uuid in wallet_uuids:
        fund(db, tenant, wallet_uuid, "100000")
    acknowledged: list[tuple[float, str]] = []
    lock = threading.Lock()
    stop = threading.Event()
    failures: list[BaseException] = []

    def spend(wallet_uuid: str) -> None:
        try:
            while not stop.is_set():
                entry = wallets.post_entry(
                    db,
                    tenant.principal,
                    EntryCommand(wallet_uuid, "SPEND", "GLOBAL", Decimal("0.01")),
                )
                with lock:
                    acknowledged.append((time.monotonic(), entry.uuid))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=spend, args=(w,)) for w in wallet_uuids]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        began = time.monotonic()
        backed_up = patron("backup", "--out", str(tmp_path / "copy.db"), "--database", url)
        ended = time.monotonic()
        time.sleep(0.3)  # writes go on after it, too
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    db.dispose()

    assert failures == []
    assert backed_up.returncode == 0, backed_up.stderr
    report = json.loads(backed_up.stdout)
    assert report["revision"] == migrate.head_revision()
    before = {uuid for at, uuid in acknowledged if at < began}
    after = {uuid for at, uuid in acknowledged if at > ended}
    assert len(before) > 20
    assert after  # the load went on past the backup

    restored = patron(
        "restore", str(tmp_path / "copy.db"), "--database", f"sqlite:///{tmp_path / 'new.db'}"
    )
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["migrate_needed"] is False
    verified = patron("ledger", "verify", "--database", f"sqlite:///{tmp_path / 'new.db'}")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["ok"] is True
    kept = entry_uuids(tmp_path / "new.db")
    assert before <= kept
    assert not after & kept  # a snapshot: nothing written after the backup ended
    assert kept < entry_uuids(tmp_path / "live.db")


def test_restore_replaces_a_store_only_with_force(tmp_path: Path) -> None:
    url = new_store(tmp_path / "live.db")
    db = Database(url, pool_size=2)
    tenant = new_tenant(db)
    wallet_uuid = make_contact(db, tenant).wallet_uuid
    kept = fund(db, tenant, wallet_uuid, "5").uuid
    assert patron("backup", "--out", str(tmp_path / "copy.db"), "--database", url).returncode == 0
    later = fund(db, tenant, wallet_uuid, "7").uuid
    db.dispose()

    refused = patron("restore", str(tmp_path / "copy.db"), "--database", url)
    assert refused.returncode == 1
    assert json.loads(refused.stderr)["error"]["code"] == "STORE_EXISTS"
    assert later in entry_uuids(tmp_path / "live.db")

    forced = patron("restore", str(tmp_path / "copy.db"), "--database", url, "--force")
    assert forced.returncode == 0, forced.stderr
    assert kept in entry_uuids(tmp_path / "live.db")
    assert later not in entry_uuids(tmp_path / "live.db")
    assert patron("ledger", "verify", "--database", url).returncode == 0
    # A second backup to the same file is refused rather than overwriting it.
    again = patron("backup", "--out", str(tmp_path / "copy.db"), "--database", url)
    assert json.loads(again.stderr)["error"]["code"] == "OUT_EXISTS"


def _plain_sqlite(path: Path) -> Path:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
    return path


def _future_store(path: Path) -> Path:
    new_store(path)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '29991231_99'")
    return path


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda path: path.write_bytes(b"not a database at all" * 100) and path, "NOT_A_STORE"),
        (_plain_sqlite, "NOT_A_STORE"),
        (_future_store, "BACKUP_TOO_NEW"),
        (lambda path: path, "BACKUP_MISSING"),
    ],
)
def test_restore_refuses_what_is_not_a_patron_store_it_knows(
    tmp_path: Path, make: Any, code: str
) -> None:
    given = tmp_path / "given.db"
    make(given)
    target = tmp_path / "target.db"

    refused = patron("restore", str(given), "--database", f"sqlite:///{target}")

    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert json.loads(refused.stderr)["error"]["code"] == code
    assert not target.exists() or target.stat().st_size == 0


def test_backup_copies_sqlite_and_gives_postgresql_its_recipe(
    database_url: str, tmp_path: Path
) -> None:
    answered = patron("backup", "--out", str(tmp_path / "copy.db"), "--database", database_url)

    assert "Traceback" not in answered.stderr
    if database_url.startswith("sqlite"):
        assert answered.returncode == 0, answered.stderr
        assert json.loads(answered.stdout)["revision"] == migrate.head_revision()
        return
    assert answered.returncode == 1
    assert json.loads(answered.stderr)["error"]["code"] == "NOT_SQLITE"
    assert "pg_dump" in answered.stdout
    assert "pg_basebackup" in answered.stdout
    assert not (tmp_path / "copy.db").exists()
