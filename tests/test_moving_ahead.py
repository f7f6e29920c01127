"""A file read, checked and built ahead in a second process (``moving.ahead``): the same import
as one process makes, on both stores; and the reading process never outlives its import."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from patron.accounts import service as accounts
from patron.core import migrate
from patron.core.db import Database
from patron.core.events import outbox_events
from patron.customers import service as customers_service
from patron.customers.tables import customers
from patron.moving import ahead, files, reader
from patron.moving.importer import Importer, ParsedRow, import_principal
from patron.wallets.tables import credit_entries, wallets
from patron.wallets.verify import verify_ledger

HEADER = "email,name,phone,shopify_id,global_balance,local_balance,birthday\n"


def write_file(path: Path, rows: int) -> Path:
    """Good rows, with bad ones among them, a contact named twice (the second a batch later),
    and a Shopify id another contact holds."""
    with path.open("w") as handle:
        handle.write(HEADER)
        for i in range(rows):
            if i % 37 == 5:
                handle.write(f"bad-{i},Bad,,,,,\n")  # not an email
            elif i % 53 == 7:
                handle.write(f"g{i}@example.com,G,,,1.001,,\n")  # too many places
            elif i == 90:
                handle.write("c3@example.com,Again,,,2.00,1,\n")  # c3 once more
            elif i == 120:
                handle.write("late@example.com,Late,,9999,1.00,,\n")  # 9999 is taken
            else:
                handle.write(
                    f"c{i}@example.com,Contact {i},+1415555{i % 10000:04d},{7000 + i},"
                    f"{i % 100}.25,{i % 9},1990-01-0{1 + i % 9}\n"
                )
    return path


def seed(db: Database, name: str, tmp_path: Path) -> str:
    """An account holding two contacts already: one the file names (c150), one whose
    Shopify id a row of the file claims."""
    created, _ = accounts.create_account(db, name=name)
    principal = import_principal(db, created.uuid)
    first = tmp_path / f"{name}-first.csv"
    first.write_text(HEADER + "c150@example.com,Before,,,5.00,,\nother@example.com,O,,9999,,,\n")
    Importer(db, principal, source="first").run(files.open_rows(first, "csv")[1])
    return created.uuid


def state(db: Database, account: str) -> dict[str, Any]:
    with db.read() as connection:
        held = connection.execute(
            select(
                customers.c.email,
                customers.c.name,
                wallets.c.global_balance,
                wallets.c.local_balance,
            )
            .join(
                wallets,
                (wallets.c.customer_uuid == customers.c.uuid)
                & (wallets.c.account_id == customers.c.account_id),
            )
            .where(customers.c.account_id == account)
        ).all()
        events = connection.execute(
            select(outbox_events.c.event_type, func.count())
            .where(outbox_events.c.account_id == account)
            .group_by(outbox_events.c.event_type)
        ).all()
        entries = connection.execute(
            select(func.count())
            .select_from(credit_entries)
            .where(credit_entries.c.account_id == account)
        ).scalar_one()
        numbers = connection.execute(
            select(func.min(customers.c.number), func.max(customers.c.number), func.count()).where(
                customers.c.account_id == account
            )
        ).one()
    return {
        "contacts": sorted(tuple(row) for row in held),
        "events": dict(sorted((kind, int(n)) for kind, n in events)),
        "entries": int(entries),
        "numbers": tuple(numbers),
    }


def rejects(path: Path) -> list[tuple[str, str, str]]:
    with path.open() as handle:
        return [(row["line"], row["field"], row["reason"]) for row in csv.DictReader(handle)]


def import_both_ways(
    db: Database, tmp_path: Path, file: Path, kind: str, *, match: str, batch_size: int
) -> tuple[str, str, dict[str, dict[str, Any]]]:
    """The file imported into one account in this process and into another through the
    reader: the two accounts (inline, ahead) and each import's summary (its timing left out).
    The rejects files are ``inline.rejects.csv`` and ``ahead.rejects.csv``."""
    one, two = seed(db, f"{kind}-inline", tmp_path), seed(db, f"{kind}-ahead", tmp_path)
    reports = {}
    for account, how in ((one, "inline"), (two, "ahead")):
        principal = import_principal(db, account)
        refused = files.RejectsFile(tmp_path / f"{how}.rejects.csv", files.columns_of(file, kind))
        importer = Importer(
            db, principal, source=file.name, match=match, rejects=refused, batch_size=batch_size
        )
        try:
            if how == "inline":
                report = importer.run(files.open_rows(file, kind)[1])
            else:
                report = importer.run_chunks(
                    ahead.chunks(
                        file, kind, principal, source=file.name, match=match, batch_size=batch_size
                    )
                )
        finally:
            refused.close()
        reports[how] = {
            key: value
            for key, value in report.as_dict(principal).items()
            if key not in {"seconds", "rows_per_second"}
        }
    return one, two, reports


def test_built_ahead_the_import_is_the_one_process_import(db: Database, tmp_path: Path) -> None:
    file = write_file(tmp_path / "in.csv", 400)

    one, two, reports = import_both_ways(db, tmp_path, file, "csv", match="email", batch_size=50)

    assert reports["ahead"] == reports["inline"]
    assert reports["ahead"]["created"] > 300
    assert reports["ahead"]["updated"] == 2  # c150 (named before), c3 (named twice)
    assert reports["ahead"]["rejected"] > 15
    assert rejects(tmp_path / "ahead.rejects.csv") == rejects(tmp_path / "inline.rejects.csv")
    assert ("122", "shopify_id") in {line[:2] for line in rejects(tmp_path / "ahead.rejects.csv")}
    assert state(db, two) == state(db, one)
    assert verify_ledger(db).ok


def test_json_lines_matched_by_shopify_id_built_ahead_is_the_one_process_import(
    db: Database, tmp_path: Path
) -> None:
    source = write_file(tmp_path / "in.csv", 300)
    file = tmp_path / "in.jsonl"
    with source.open() as rows, file.open("w") as out:
        for number, row in enumerate(csv.DictReader(rows)):
            if number == 40:
                out.write("{not json\n")
            if number == 80:
                out.write("[1, 2]\n")
            out.write(json.dumps({key: value for key, value in row.items() if value}) + "\n")

    one, two, reports = import_both_ways(
        db, tmp_path, file, "jsonl", match="shopify", batch_size=64
    )

    assert reports["ahead"] == reports["inline"]
    assert reports["ahead"]["created"] > 200
    assert reports["ahead"]["updated"] >= 1  # Shopify id 9999: the contact seeded with it
    assert rejects(tmp_path / "ahead.rejects.csv") == rejects(tmp_path / "inline.rejects.csv")
    lines = {line[0] for line in rejects(tmp_path / "ahead.rejects.csv")}
    assert {"41", "82"} <= lines  # the line that is not JSON, the one that is not an object
    assert state(db, two) == state(db, one)
    assert verify_ledger(db).ok


def test_a_batch_all_accepted_and_new_is_written_as_built_and_the_rest_row_by_row(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of 50 rows: one all new, one naming a contact of the one before (on
    PostgreSQL still being written beside it: it waits for it), one with a bad row and a
    contact the one before creates (it waits for that one to be written row by row), one
    naming a contact already there, one all new, one with a Shopify id another contact
    holds, a last short one all new. The importing process unpacks the rows of the four
    that cannot be written as built, and only those; the import is the one-process import
    all the same."""
    lines = [f"n{i}@example.com,New {i},,{5000 + i},{i % 7}.50,{i % 4},\n" for i in range(321)]
    lines[70] = "n10@example.com,Again,,,2.00,,\n"  # named by the chunk before
    lines[100] = "not-an-email,Bad,,,,,\n"
    lines[120] = "n60@example.com,Later,,,,,\n"  # the chunk before names n60 first
    lines[160] = "c150@example.com,Seeded,,,3.00,2,\n"  # the contact ``seed`` made
    lines[260] = "taken@example.com,Taken,,9999,1.00,,\n"  # another contact's Shopify id
    file = tmp_path / "mixed.csv"
    file.write_text(HEADER + "".join(lines))
    unpacked: list[int] = []
    rows = ahead.Chunk.rows

    def counted(chunk: ahead.Chunk) -> Iterator[Any]:
        unpacked.append(chunk.count)
        return rows(chunk)

    monkeypatch.setattr(ahead.Chunk, "rows", counted)

    one, two, reports = import_both_ways(db, tmp_path, file, "csv", match="email", batch_size=50)

    # n10's again, the bad row's, c150's, the taken id's (on PostgreSQL the bad row's may
    # come before n10's, which is found not new only when its batch is written)
    assert sorted(unpacked) == [50, 50, 50, 51]
    assert reports["ahead"] == reports["inline"]
    assert (reports["ahead"]["created"], reports["ahead"]["updated"]) == (316, 3)
    assert reports["ahead"]["rejected"] == 2
    assert rejects(tmp_path / "ahead.rejects.csv") == rejects(tmp_path / "inline.rejects.csv")
    assert state(db, two) == state(db, one)
    assert verify_ledger(db).ok


def _sent(path: Path, principal: Any, *, ask: bool, batch_size: int) -> list[ahead.Chunk]:
    """The chunks ``ahead.read`` sends of the file (``ask``: the importing process asked for
    every chunk's rows before the first)."""
    asking, asked = os.pipe()[::-1]
    try:
        if ask:
            os.write(asking, b"P")
        out = path.with_suffix(".chunks")
        with out.open("wb") as sink:
            ahead.read(path, "csv", principal, path.name, "email", batch_size, sink, asked)
    finally:
        os.close(asking)
        os.close(asked)
    chunks = []
    with out.open("rb") as stream:
        while (message := ahead._receive(stream)) is not None:
            assert isinstance(message, ahead.Chunk)
            chunks.append(message)
    return chunks


def test_the_reader_sends_a_chunks_rows_only_if_one_was_refused_or_it_is_asked(
    db: Database, tmp_path: Path
) -> None:
    principal = import_principal(db, seed(db, "packing", tmp_path))
    lines = [f"p{i}@example.com,P {i},,,1.00,,\n" for i in range(120)]
    lines[70] = "not-an-email,Bad,,,,,\n"
    file = tmp_path / "packing.csv"
    file.write_text(HEADER + "".join(lines))

    unasked = _sent(file, principal, ask=False, batch_size=50)
    asked = _sent(file, principal, ask=True, batch_size=50)

    # 50 accepted rows a chunk: the second holds the refused one as well
    assert [(chunk.count, chunk.accepted) for chunk in unasked] == [(50, 50), (51, 50), (19, 19)]
    assert [chunk.items is None for chunk in unasked] == [True, False, True]
    assert [chunk.items is None for chunk in asked] == [False, False, False]
    assert [line for _, _, line in _lines(asked)] == list(range(2, 122))


def _lines(chunks: list[ahead.Chunk]) -> list[tuple[int, bool, int]]:
    """(chunk, accepted, line) of each row of the chunks, as the importing process takes it."""
    return [
        (number, isinstance(parsed, ParsedRow), row.line)
        for number, chunk in enumerate(chunks)
        for row, parsed in chunk.rows()
    ]


def test_a_rerun_reads_the_rows_of_chunks_sent_without_them_again_from_the_file(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first import's chunks come without their rows; run again, the contacts are there:
    the importing process reads the rows of such chunks again from the file (and asks the
    reader for the later ones' rows). The re-run changes nothing, as the one-process re-run
    does not."""
    file = _balances(tmp_path / "again.csv", "r", 300)  # every row good
    one, two, _ = import_both_ways(db, tmp_path, file, "csv", match="email", batch_size=50)
    before = state(db, two)
    read_again: list[int] = []
    rows = ahead._Rereader.rows

    def counted(rereader: Any, first: int, count: int) -> Iterator[tuple[files.SourceRow, Any]]:
        read_again.append(first)
        return rows(rereader, first, count)

    monkeypatch.setattr(ahead._Rereader, "rows", counted)

    reports = {}
    for account, how in ((one, "inline"), (two, "ahead")):
        principal = import_principal(db, account)
        importer = Importer(db, principal, source=file.name, batch_size=50)
        if how == "inline":
            report = importer.run(files.open_rows(file, "csv")[1])
        else:
            report = importer.run_chunks(
                ahead.chunks(file, "csv", principal, source=file.name, match="email", batch_size=50)
            )
        reports[how] = {
            key: value
            for key, value in report.as_dict(principal).items()
            if key not in {"seconds", "rows_per_second"}
        }

    assert read_again  # the first chunk's rows at least (on PostgreSQL two may come reversed)
    assert len(set(read_again)) == len(read_again)
    assert reports["ahead"] == reports["inline"]
    assert reports["ahead"]["created"] == 0
    assert reports["ahead"]["balances_already_imported"] == 300
    assert state(db, two) == before == state(db, one)
    assert verify_ledger(db).ok


def test_a_file_changed_during_its_import_is_not_read_again(db: Database, tmp_path: Path) -> None:
    file = _balances(tmp_path / "changing.csv", "k", 200)  # every row good
    account = seed(db, "changing", tmp_path)
    principal = import_principal(db, account)
    Importer(db, principal, source="changing", batch_size=50).run(files.open_rows(file, "csv")[1])
    before = state(db, account)

    def then_changed() -> Iterator[ahead.Chunk]:
        for chunk in ahead.chunks(
            file, "csv", principal, source="changing", match="email", batch_size=50
        ):
            with file.open("a") as handle:
                handle.write("added@example.com,100.00\n")
            yield chunk

    with pytest.raises(ahead.ReaderStopped, match="the file changed while it was being imported"):
        Importer(db, principal, source="changing", batch_size=50).run_chunks(then_changed())
    assert state(db, account) == before


def test_batches_written_as_built_refresh_the_planners_figures_on_postgresql(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past 2,000 contacts written, PostgreSQL's planner is given the tables' figures (each
    batch's lookups and key checks would slow down as the tables grow): batches written as
    built count toward it as the others do."""
    file = tmp_path / "new.csv"
    file.write_text(HEADER + "".join(f"s{i}@example.com,S {i},,,1.00,1,\n" for i in range(2_500)))
    refreshed: list[int] = []
    monkeypatch.setattr(
        customers_service, "refresh_statistics", lambda _: refreshed.append(len(refreshed))
    )
    created, _ = accounts.create_account(db, name="figures")
    principal = import_principal(db, created.uuid)

    report = Importer(db, principal, source="new.csv", batch_size=500).run_chunks(
        ahead.chunks(file, "csv", principal, source="new.csv", match="email", batch_size=500)
    )

    assert report.created == 2_500
    assert refreshed == ([] if db.is_sqlite else [0])


def test_a_dry_run_built_ahead_writes_nothing(db: Database, tmp_path: Path) -> None:
    file = write_file(tmp_path / "in.csv", 150)
    account = seed(db, "dry", tmp_path)
    before = state(db, account)
    principal = import_principal(db, account)

    report = Importer(db, principal, source="in.csv", dry_run=True, batch_size=40).run_chunks(
        ahead.chunks(file, "csv", principal, source="in.csv", match="email", batch_size=40)
    )

    assert report.created > 100
    assert state(db, account) == before


def test_a_reader_that_fails_stops_the_import_with_a_clear_error(
    db: Database, tmp_path: Path
) -> None:
    account = seed(db, "gone", tmp_path)
    principal = import_principal(db, account)
    importer = Importer(db, principal, source="x")

    with pytest.raises(ahead.ReaderStopped, match="reading the file failed: no file at"):
        importer.run_chunks(
            ahead.chunks(
                tmp_path / "missing.csv", "csv", principal, source="x", match="email", batch_size=10
            )
        )


def test_a_damaged_chunk_stops_the_import_with_a_clear_error(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = seed(db, "damaged", tmp_path)
    principal = import_principal(db, account)
    damaging = (
        "import pickle, struct, sys; pickle.load(sys.stdin.buffer); "
        "sys.stdout.buffer.write(struct.pack('!Q', 9) + b'\\x80\\x05garbage')"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", damaging], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    monkeypatch.setattr(reader, "spawn", lambda: process)

    with pytest.raises(ahead.ReaderStopped, match="arrived damaged; run the import again"):
        Importer(db, principal, source="x").run_chunks(
            ahead.chunks(
                tmp_path / "any.csv", "csv", principal, source="x", match="email", batch_size=10
            )
        )
    assert process.returncode is not None


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _gone(pid: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state_ = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state_ == "Z":
            return True
        time.sleep(0.05)
    return False


def _count(db: Database, account: str) -> int:
    with db.read() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(customers).where(customers.c.account_id == account)
            ).scalar_one()
        )


# ``python -m patron`` answering Ctrl-C as at a terminal: a test runner's worker may ignore it,
# and the processes it starts would inherit that.
_PATRON = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'patron'; runpy.run_module('patron', run_name='__main__')"
)


def _start(database_url: str, account: str, file: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            _PATRON,
            "import",
            "contacts",
            str(file),
            "--account",
            account,
            "--database",
            database_url,
            "--batch-size",
            "200",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _reader_of(process: subprocess.Popen[bytes], db: Database, account: str) -> int:
    """The reading process of a running import, once it has written some contacts."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        readers = _children(process.pid)
        if readers and _count(db, account) >= 400:
            return readers[0]
        time.sleep(0.02)
    raise AssertionError("the import wrote nothing, or started no reader")


def _balances(path: Path, prefix: str, rows: int) -> Path:
    """ROWS new contacts, each with 1.25 of store credit."""
    with path.open("w") as handle:
        handle.write("email,global_balance\n")
        for i in range(rows):
            handle.write(f"{prefix}{i}@example.com,1.25\n")
    return path


def _global_total(db: Database, account: str) -> int:
    with db.read() as connection:
        return int(
            connection.execute(
                select(func.sum(wallets.c.global_balance)).where(wallets.c.account_id == account)
            ).scalar_one()
        )


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[tuple[Database, str]]:
    """A SQLite store of its own: a file is read ahead on SQLite only."""
    url = f"sqlite:///{tmp_path / 'ahead.db'}"
    migrate.upgrade(url)
    database = Database(url)
    yield database, url
    database.dispose()


def test_a_killed_import_leaves_no_reader_behind_and_resumes(
    sqlite_store: tuple[Database, str], tmp_path: Path
) -> None:
    db, database_url = sqlite_store
    rows = ahead.AHEAD_ROWS + 2_000
    file = _balances(tmp_path / "big.csv", "k", rows)
    account = seed(db, "killed", tmp_path)
    process = _start(database_url, account, file)
    reader = _reader_of(process, db, account)

    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    assert _gone(reader), "the reader outlived the killed import"
    partial = _count(db, account)
    resumed = _start(database_url, account, file)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    report = json.loads(out)
    assert 2 < partial < rows + 2
    assert report["created"] == rows + 2 - partial
    assert _count(db, account) == rows + 2
    assert _global_total(db, account) == rows * 125 + 500
    assert verify_ledger(db).ok


def test_ctrl_c_stops_an_import_and_its_reader_without_a_traceback(
    sqlite_store: tuple[Database, str], tmp_path: Path
) -> None:
    db, database_url = sqlite_store
    file = tmp_path / "big.csv"
    with file.open("w") as handle:
        handle.write("email\n")
        for i in range(ahead.AHEAD_ROWS + 20_000):
            handle.write(f"i{i}@example.com\n")
    account = seed(db, "interrupted", tmp_path)
    process = _start(database_url, account, file)
    reader = _reader_of(process, db, account)

    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)

    assert process.returncode == 130
    assert b"Traceback" not in err
    assert _gone(reader), "the reader outlived the interrupted import"


def _big(path: Path) -> Path:
    with path.open("w") as handle:
        handle.write("email\n")
        for i in range(reader.EARLY_BYTES // 20 + 1):
            handle.write(f"early{i:06d}@example.com\n")
    return path


def test_the_command_starts_the_reader_of_a_large_import_first_and_only_then(
    tmp_path: Path,
) -> None:
    big = _big(tmp_path / "big.csv")
    small = tmp_path / "small.csv"
    small.write_text("email\na@example.com\n")
    for argv in (
        ["import", "contacts", str(small)],
        ["export", "contacts", "--out", str(big)],
        ["import", "contacts", str(big), "--help"],
        ["import", "contacts", str(tmp_path / "missing.csv")],
    ):
        reader.start_early(argv)
        assert reader.take() is None, argv

    reader.start_early(["import", "contacts", "--account", "x", str(big)])
    started = reader.take()

    assert started is not None
    assert reader.take() is None  # taken once
    assert started.poll() is None  # loading, then waiting for its arguments
    # The command ends before it hands the reader its arguments: the reader ends too.
    assert started.stdin is not None
    assert started.stdout is not None
    started.stdin.close()
    assert started.wait(30) != 0
    started.stdout.close()


def test_a_reader_started_early_and_not_used_is_stopped_at_exit(tmp_path: Path) -> None:
    reader.start_early(["import", "contacts", str(_big(tmp_path / "big.csv"))])
    assert len(reader._started) == 1
    process = reader._started[0]

    reader._stop_unused()  # what exit runs

    assert process.returncode is not None
    assert reader.take() is None


def test_the_import_takes_the_reader_started_early_and_its_pipe_holds_a_chunk(
    db: Database, tmp_path: Path
) -> None:
    file = write_file(tmp_path / "in.csv", 300)
    account = seed(db, "early", tmp_path)
    principal = import_principal(db, account)
    reader.start_early(["import", "contacts", str(_big(tmp_path / "big.csv"))])
    assert len(reader._started) == 1
    early = reader._started[0]
    assert early.stdout is not None
    if hasattr(fcntl, "F_GETPIPE_SZ"):
        assert fcntl.fcntl(early.stdout.fileno(), fcntl.F_GETPIPE_SZ) == reader.PIPE_BYTES

    report = Importer(db, principal, source="early", batch_size=50).run_chunks(
        ahead.chunks(file, "csv", principal, source="early", match="email", batch_size=50)
    )

    assert reader.take() is None  # the import took it, and stopped it at the end
    assert early.returncode is not None
    assert (report.rows, report.created, report.updated, report.rejected) == (300, 283, 2, 15)


class _Pester:
    """Stops and continues a process every few milliseconds (as a debugger, a profiler or a
    paused container does), until the block ends; it always leaves it running."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._done = threading.Event()
        self.stops = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.is_set():
            try:
                os.kill(self._pid, signal.SIGSTOP)
                time.sleep(0.002)
                os.kill(self._pid, signal.SIGCONT)
            except ProcessLookupError:
                return
            self.stops += 1
            self._done.wait(0.005)

    def __enter__(self) -> _Pester:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()


_SENDING = (
    "import sys\n"
    "from patron.moving import ahead\n"
    "sender = ahead._Sender(sys.stdout.buffer)\n"
    "for i in range(12):\n"
    "    sender.send(ahead._Failed(str(i) * 2_000_000))\n"
    "sender.send(None)\n"
    "sender.close()\n"
)


def test_chunks_cross_the_pipe_whole_while_the_reader_is_stopped_and_continued() -> None:
    # Each message is larger than the pipe: its write waits, and a stop returns it early.
    process = subprocess.Popen(
        [sys.executable, "-c", _SENDING], stdout=subprocess.PIPE, start_new_session=True
    )
    assert process.stdout is not None
    received: list[Any] = []
    with _Pester(process.pid) as pester:
        time.sleep(0.3)  # the pipe fills: the reader's write is waiting
        while (message := ahead._receive(process.stdout)) is not None:
            received.append(message)
    process.stdout.close()
    assert process.wait(30) == 0
    assert pester.stops > 5
    assert [message.message for message in received] == [str(i) * 2_000_000 for i in range(12)]


def test_an_import_whose_reader_is_stopped_and_continued_imports_every_row(
    sqlite_store: tuple[Database, str], tmp_path: Path
) -> None:
    db, database_url = sqlite_store
    rows = ahead.AHEAD_ROWS + 2_000
    file = _balances(tmp_path / "big.csv", "s", rows)
    account = seed(db, "stopped", tmp_path)
    process = _start(database_url, account, file)
    with _Pester(_reader_of(process, db, account)) as pester:
        out, err = process.communicate(timeout=300)

    assert process.returncode == 0, err
    assert pester.stops > 5
    assert json.loads(out)["created"] == rows
    assert _global_total(db, account) == rows * 125 + 500
    assert verify_ledger(db).ok
