"""``patron import contacts`` and ``patron export``: on both stores, through the command line."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from patron.accounts import service as accounts
from patron.cli.main import run
from patron.core.db import Database
from patron.core.events import outbox_events
from patron.core.idempotency import idempotency_keys
from patron.customers.tables import customers
from patron.moving.files import open_rows
from patron.wallets.tables import credit_entries, wallets
from patron.wallets.verify import verify_ledger

HEADER = "email,name,phone,shopify_id,external_id,global_balance,local_balance,birthday,note\n"


def call(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    code = run(args)
    captured = capsys.readouterr()
    try:
        return code, json.loads(captured.out), captured.err
    except ValueError:
        return code, captured.out, captured.err


def write_contacts(path: Path, count: int, *, start: int = 0, balance: str = "10.50") -> Path:
    with path.open("w") as handle:
        handle.write(HEADER)
        for i in range(start, start + count):
            handle.write(
                f"c{i}@example.com,Contact {i},+1415555{i % 10000:04d},{7000 + i},ext-{i},"
                f"{balance},{i % 7},1990-01-0{1 + i % 9},note {i}\n"
            )
    return path


def balances(db: Database, account_id: str) -> dict[str, tuple[int, int]]:
    with db.read() as connection:
        rows = connection.execute(
            select(customers.c.email, wallets.c.global_balance, wallets.c.local_balance)
            .join(
                wallets,
                (wallets.c.customer_uuid == customers.c.uuid)
                & (wallets.c.account_id == customers.c.account_id),
            )
            .where(customers.c.account_id == account_id)
        ).all()
    return {row.email: (row.global_balance, row.local_balance) for row in rows}


def count(db: Database, table: Any, account_id: str) -> int:
    with db.read() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(table).where(table.c.account_id == account_id)
            ).scalar_one()
        )


@pytest.fixture
def account(db: Database) -> str:
    created, _ = accounts.create_account(db, name="Importer")
    return created.uuid


def test_import_creates_contacts_and_balances_once_and_a_rerun_changes_nothing(
    db: Database,
    database_url: str,
    account: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    file = write_contacts(tmp_path / "shop.csv", 120)
    args = ["import", "contacts", str(file), "--account", account, "--database", database_url]

    code, first, _ = call([*args, "--batch-size", "50"], capsys)
    entries = count(db, credit_entries, account)
    events = count(db, outbox_events, account)
    code_again, again, _ = call(args, capsys)

    assert code == 0
    assert code_again == 0
    assert first["created"] == 120
    assert first["rejected"] == 0
    assert first["credit_imported"] == {
        "GLOBAL": "1260.00",
        "LOCAL": str(sum(i % 7 for i in range(120))),
    }
    assert again["created"] == 0
    assert again["unchanged"] == 120
    assert again["credit_imported"] == {"GLOBAL": "0.00", "LOCAL": "0"}
    assert again["balances_already_imported"] == first["balances_already_imported"] + entries
    assert count(db, credit_entries, account) == entries
    assert count(db, outbox_events, account) == events
    assert balances(db, account)["c3@example.com"] == (1050, 3)
    assert verify_ledger(db).ok
    with db.read() as connection:
        reasons = set(
            connection.execute(
                select(credit_entries.c.reason).where(credit_entries.c.account_id == account)
            ).scalars()
        )
        actors = {
            tuple(row)
            for row in connection.execute(
                select(credit_entries.c.actor, credit_entries.c.actor_name).where(
                    credit_entries.c.account_id == account
                )
            )
        }
        payloads = {
            row.event_type: row.payload
            for row in connection.execute(
                select(outbox_events.c.event_type, outbox_events.c.payload).where(
                    outbox_events.c.account_id == account
                )
            )
        }
        services = connection.execute(
            select(customers.c.connected_services).where(customers.c.account_id == account)
        ).scalars()
        assert set(map(tuple, services)) == {()}
        # As stored: the text ``insert()`` writes of a payload (json.dumps').
        texts = connection.exec_driver_sql(
            f"SELECT CAST(payload AS TEXT) FROM outbox_events WHERE account_id = '{account}'"
        ).scalars()
        assert all(json.dumps(json.loads(text)) == text for text in texts)
        keys = connection.execute(
            select(customers.c.uuid, credit_entries.c.credit_type, credit_entries.c.idempotency_key)
            .join(
                wallets,
                (wallets.c.account_id == credit_entries.c.account_id)
                & (wallets.c.uuid == credit_entries.c.wallet_uuid),
            )
            .join(
                customers,
                (customers.c.account_id == wallets.c.account_id)
                & (customers.c.uuid == wallets.c.customer_uuid),
            )
            .where(credit_entries.c.account_id == account)
        ).all()
    # Each balance's key is on its entry, and only there.
    assert len(keys) == entries
    assert all(key == f"import:shop.csv:{uuid}:{kind}" for uuid, kind, key in keys)
    assert count(db, idempotency_keys, account) == 0
    assert reasons == {"IMPORT"}
    assert actors == {("system:import", "import")}
    assert set(payloads) == {"contact.created", "wallet.credit_added"}
    assert payloads["wallet.credit_added"]["reason"] == "IMPORT"
    assert payloads["wallet.credit_added"]["action"] == "ADD"
    assert isinstance(payloads["contact.created"]["number"], int)


def test_a_changed_balance_of_the_same_source_is_reported_not_posted(
    db: Database,
    database_url: str,
    account: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["--account", account, "--database", database_url, "--source", "legacy"]
    call(["import", "contacts", str(write_contacts(tmp_path / "a.csv", 3)), *base], capsys)
    changed = write_contacts(tmp_path / "b.csv", 3, balance="99.00")
    rejects = tmp_path / "rejects.csv"

    code, report, _ = call(
        ["import", "contacts", str(changed), *base, "--rejects", str(rejects)], capsys
    )

    assert code == 0
    assert report["balances_not_reposted"] == 3
    assert report["credit_imported"]["GLOBAL"] == "0.00"
    assert balances(db, account)["c0@example.com"] == (1050, 0)
    lines = list(csv.DictReader(rejects.open()))
    assert {line["field"] for line in lines} == {"global_balance"}
    assert "10.50 was already imported from source 'legacy'" in lines[0]["reason"]
    # Another source name is another opening balance: it adds.
    code, other, _ = call(
        [
            "import",
            "contacts",
            str(changed),
            "--account",
            account,
            "--database",
            database_url,
            "--source",
            "legacy-2",
        ],
        capsys,
    )
    assert other["credit_imported"]["GLOBAL"] == "297.00"
    assert balances(db, account)["c0@example.com"] == (1050 + 9900, 0)
    assert verify_ledger(db).ok


def test_every_bad_row_lands_in_the_rejects_file_with_its_line_and_the_rest_imports(
    db: Database,
    database_url: str,
    account: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    taken = tmp_path / "first.csv"
    taken.write_text("email,shopify_id\nowner@example.com,555\n")
    call(
        ["import", "contacts", str(taken), "--account", account, "--database", database_url], capsys
    )
    file = tmp_path / "bad.csv"
    file.write_text(
        HEADER
        + "ok@example.com,Ok,,,,1.00,,,\n"  # line 2
        + "not-an-email,X,,,,,,,\n"  # 3
        + "p@example.com,P,12345,,,,,,\n"  # 4
        + "b@example.com,B,,,,,,1990-02-30,\n"  # 5
        + "g@example.com,G,,,,1.001,,,\n"  # 6
        + "l@example.com,L,,,,,-4,,\n"  # 7
        + "s@example.com,S,,gid://shopify/Order/1,,,,,\n"  # 8
        + "t@example.com,T,,555,,,,,\n"  # 9: the Shopify id is another contact's
        + ",NoEmail,,,,,,,\n"  # 10
        + "short@example.com,too,few\n"  # 11
        + f"n@example.com,{'x' * 201},,,,,,,\n"  # 12
    )
    rejects = tmp_path / "r.csv"

    code, report, _ = call(
        [
            "import",
            "contacts",
            str(file),
            "--account",
            account,
            "--database",
            database_url,
            "--rejects",
            str(rejects),
        ],
        capsys,
    )

    assert code == 0
    assert report["created"] == 1
    assert report["rejected"] == 10
    got = {(int(line["line"]), line["field"]) for line in csv.DictReader(rejects.open())}
    assert got == {
        (3, "email"),
        (4, "phone"),
        (5, "birthday"),
        (6, "global_balance"),
        (7, "local_balance"),
        (8, "shopify_id"),
        (9, "shopify_id"),
        (10, "email"),
        (11, ""),
        (12, "name"),
    }
    reasons = {int(line["line"]): line["reason"] for line in csv.DictReader(rejects.open())}
    assert reasons[3] == "email 'not-an-email' is not a valid email address"
    assert (
        reasons[9] == "shopify id 'gid://shopify/Customer/555' is already linked to another contact"
    )
    assert reasons[12] == "name must be 0 to 200 characters, got 201"
    first = next(csv.DictReader(rejects.open()))
    assert first["email"] == "not-an-email"
    assert first["name"] == "X"


def test_a_dry_run_counts_and_writes_nothing(
    db: Database,
    database_url: str,
    account: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    file = write_contacts(tmp_path / "dry.csv", 30)

    code, report, _ = call(
        [
            "import",
            "contacts",
            str(file),
            "--account",
            account,
            "--database",
            database_url,
            "--dry-run",
        ],
        capsys,
    )

    assert code == 0
    assert report["dry_run"] is True
    assert report["created"] == 30
    assert report["credit_imported"]["GLOBAL"] == "315.00"
    assert count(db, customers, account) == 0
    assert count(db, credit_entries, account) == 0
    assert count(db, outbox_events, account) == 0


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_an_export_imported_into_an_empty_account_gives_the_same_balances(
    kind: str,
    db: Database,
    database_url: str,
    account: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    file = write_contacts(tmp_path / "in.csv", 40)
    call(
        ["import", "contacts", str(file), "--account", account, "--database", database_url], capsys
    )
    out = tmp_path / f"out.{kind}"
    code, done, _ = call(
        [
            "export",
            "contacts",
            "--account",
            account,
            "--format",
            kind,
            "--out",
            str(out),
            "--database",
            database_url,
        ],
        capsys,
    )
    empty, _ = accounts.create_account(db, name="Empty")

    code_in, report, _ = call(
        ["import", "contacts", str(out), "--account", empty.uuid, "--database", database_url],
        capsys,
    )

    assert code == 0
    assert done["rows"] == 40
    assert code_in == 0
    assert report["created"] == 40
    assert report["rejected"] == 0
    assert balances(db, empty.uuid) == balances(db, account)

    def profiles(account_id: str) -> dict[str, Any]:
        with db.read() as connection:
            return {
                row.email: (row.name, row.phone, row.birthday, row.notes, row.source_id)
                for row in connection.execute(
                    select(customers).where(customers.c.account_id == account_id)
                )
            }

    assert profiles(empty.uuid) == profiles(account)
    assert len(profiles(account)) == 40


def test_entries_export_every_field_of_a_credit_entry(
    db: Database,
    database_url: str,
    account: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    file = write_contacts(tmp_path / "in.csv", 5)
    call(
        ["import", "contacts", str(file), "--account", account, "--database", database_url], capsys
    )

    code, out, _ = call(
        [
            "export",
            "entries",
            "--account",
            account,
            "--format",
            "jsonl",
            "--database",
            database_url,
        ],
        capsys,
    )

    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert len(rows) == 9  # five GLOBAL, four LOCAL (0 points is no entry)
    assert set(rows[0]) >= {
        "id",
        "uuid",
        "wallet_uuid",
        "seq",
        "action",
        "credit_type",
        "amount",
        "amount_minor",
        "balance_after",
        "reason",
        "note",
        "idempotency_key",
        "conversion_uuid",
        "created_at",
    }
    assert {row["reason"] for row in rows} == {"IMPORT"}
    assert all(row["idempotency_key"].startswith("import:in.csv:") for row in rows)


def test_a_killed_import_resumes_and_finishes_without_doubling(
    db: Database, database_url: str, account: str, tmp_path: Path
) -> None:
    file = write_contacts(tmp_path / "big.csv", 3000)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    args = [
        sys.executable,
        "-m",
        "patron",
        "import",
        "contacts",
        str(file),
        "--account",
        account,
        "--database",
        database_url,
        "--batch-size",
        "100",
    ]
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while count(db, customers, account) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    partial = count(db, customers, account)

    resumed = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=300, check=False
    )

    assert 0 < partial < 3000
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["created"] == 3000 - partial
    assert count(db, customers, account) == 3000
    assert balances(db, account)["c2999@example.com"] == (1050, 2999 % 7)
    assert sum(g for g, _ in balances(db, account).values()) == 3000 * 1050
    assert verify_ledger(db).ok


def test_two_runs_of_a_source_at_once_post_each_balance_once(
    db: Database, database_url: str, account: str, tmp_path: Path
) -> None:
    """The contacts are there (imported from another source); the same file of a new source
    is imported twice at the same time. Each balance's key is looked for among its wallet's
    entries under the wallet's lock: whichever run comes second finds the first's entries."""
    file = write_contacts(tmp_path / "both.csv", 400)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    base = [sys.executable, "-m", "patron", "import", "contacts", str(file), "--account"]
    base += [account, "--database", database_url, "--batch-size", "40", "--source"]
    first = subprocess.run(
        [*base, "before"], check=False, env=env, capture_output=True, timeout=300
    )
    assert first.returncode == 0, first.stderr

    runs = [
        subprocess.Popen([*base, "again"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    answers = [run.communicate(timeout=300) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], [err for _, err in answers]
    reports = [json.loads(out) for out, _ in answers]
    posted = sum(Decimal(report["credit_imported"]["GLOBAL"]) for report in reports)
    assert posted == Decimal("10.50") * 400
    assert sum(report["balances_already_imported"] for report in reports) == 400 + sum(
        1 for i in range(400) if i % 7
    )
    assert sum(g for g, _ in balances(db, account).values()) == 2 * 400 * 1050
    assert sum(points for _, points in balances(db, account).values()) == 2 * sum(
        i % 7 for i in range(400)
    )
    assert verify_ledger(db).ok


def test_json_lines_rows_are_read_exactly_and_bad_lines_are_rejected_by_line(
    db: Database,
    database_url: str,
    account: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    file = tmp_path / "people.jsonl"
    file.write_text(
        '{"email": "j1@example.com", "global_balance": 0.1, "local_balance": 3}\n'
        "\n"
        "{not json\n"
        '["a", "list"]\n'
        '{"email": "j2@example.com", "name": 7, "colour": "red"}\n'
        '{"email": "j3@example.com", "global_balance": "2.20", "shopify_id": 123}\n'
    )
    rejects = tmp_path / "r.csv"

    code, report, _ = call(
        [
            "import",
            "contacts",
            str(file),
            "--account",
            account,
            "--database",
            database_url,
            "--rejects",
            str(rejects),
        ],
        capsys,
    )

    assert code == 0
    assert report["created"] == 1
    assert report["rejected"] == 4
    assert report["credit_imported"] == {"GLOBAL": "0.10", "LOCAL": "3"}
    lines = [(int(row["line"]), row["field"]) for row in csv.DictReader(rejects.open())]
    assert lines == [(3, ""), (4, ""), (5, "colour"), (5, "name"), (6, "shopify_id")]
    first = next(csv.DictReader(rejects.open()))
    assert first["row"] == "{not json"


def test_small_batches_written_side_by_side_keep_the_files_order_and_its_contacts_one_each(
    db: Database,
    database_url: str,
    account: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Batches of three, matched by external id (which no unique index guards): on
    PostgreSQL two are written at once. A row about a contact of a batch still being written
    must wait for it and find it, not create it twice; the rejects come in the file's order,
    rows refused when read and rows refused when written alike."""
    taken = tmp_path / "first.csv"
    taken.write_text("email,external_id,shopify_id\nowner@example.com,owner,555\n")
    call(
        [
            "import",
            "contacts",
            str(taken),
            "--account",
            account,
            "--database",
            database_url,
            "--match",
            "external",
        ],
        capsys,
    )
    lines = [HEADER.strip()]
    expected_rejects: list[int] = []
    keys: set[str] = set()
    for i in range(80):
        line = len(lines) + 1
        if i % 7 == 3:
            lines.append(f"bad-{i},Bad,,,x{i},,,,")  # refused when read
            expected_rejects.append(line)
        elif i % 11 == 5:
            lines.append(f"taken{i}@example.com,T,,555,t{i},,,,")  # refused when written
            expected_rejects.append(line)
        else:
            # Each contact twice, four rows apart (the next batch, or the one after): the
            # same balance the second time (its key is applied once).
            key = f"k{i % 4 + 8 * (i // 8)}"
            keys.add(key)
            lines.append(f",Name {i},,,{key},1.00,,,")
    file = tmp_path / "mixed.csv"
    file.write_text("\n".join(lines) + "\n")
    rejects = tmp_path / "r.csv"

    code, report, _ = call(
        [
            "import",
            "contacts",
            str(file),
            "--account",
            account,
            "--database",
            database_url,
            "--match",
            "external",
            "--rejects",
            str(rejects),
            "--batch-size",
            "3",
        ],
        capsys,
    )

    assert code == 0
    rows = list(csv.DictReader(rejects.open()))
    assert [int(row["line"]) for row in rows] == expected_rejects
    assert report["rejected"] == len(expected_rejects)
    assert report["created"] == len(keys)
    with db.read() as connection:
        found = connection.execute(
            select(customers.c.source_id, wallets.c.global_balance)
            .join(
                wallets,
                (wallets.c.customer_uuid == customers.c.uuid)
                & (wallets.c.account_id == customers.c.account_id),
            )
            .where(customers.c.account_id == account, customers.c.source_id != "owner")
        ).all()
    # One contact per key, each with its 1.00 once, whichever batch saw it first.
    assert sorted(found) == sorted((key, 100) for key in keys)
    assert verify_ledger(db).ok


def test_a_csv_row_keeps_its_cells_as_written_beside_its_cleaned_values(tmp_path: Path) -> None:
    """The rejects file gets a row as it was read: padded and empty cells as written, and
    a header's own spelling; a row written plainly under a plain header reads the same."""
    plain = tmp_path / "plain.csv"
    plain.write_text("email,name\na@example.com,Ann\n b@example.com ,\n", encoding="utf-8")
    spelled = tmp_path / "spelled.csv"
    spelled.write_text("Email,name\na@example.com,Ann\n", encoding="utf-8")

    _, rows = open_rows(plain, "csv")
    first, second = list(rows)
    _, rows = open_rows(spelled, "csv")
    (third,) = list(rows)

    assert first.values == first.original == {"email": "a@example.com", "name": "Ann"}
    assert second.values == {"email": "b@example.com", "name": None}
    assert second.original == {"email": " b@example.com ", "name": ""}
    assert third.values == {"email": "a@example.com", "name": "Ann"}
    assert third.original == {"Email": "a@example.com", "name": "Ann"}
