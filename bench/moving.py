"""Import and export: ``patron import contacts`` and ``patron export`` as a user runs them.

A CSV of ``--moving-rows`` contacts (email, name, phone, Shopify id, birthday, both balances)
is imported into a fresh account by the real command (rows/s, and the peak memory of its
process), imported again (a re-run: nothing may change), then exported (contacts and entries,
rows/s). The account's balances must add up to the file's and ``patron ledger verify`` must
pass. The CPU the import took is split between its own process and the database's backends
(PostgreSQL on this machine), per contact. Then the database's own floor: the rows the
import wrote (customers, identities, wallets, entries, outbox events) are
loaded into a freshly migrated store by the database alone, every constraint and index in
place: PostgreSQL's ``COPY FROM`` one table after another on one connection (each table
analysed after its rows, as the import has them analysed), and on two connections at once
(half the contacts each, as the import writes on two), SQLite's
``INSERT ... SELECT`` from the imported file in one transaction. ``make bench`` runs it as
the ``moving`` operation; alone:

    .venv/bin/python -m bench.moving --rows 100000 --stores sqlite,postgresql
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from bench.cpu import CpuWindow
from bench.server import PATRON, clean_environment, patron_json
from bench.stores import backend_pids, libpq
from patron.core.bulk import statement_shape, values_statement
from patron.core.db import BULK_PAGE_CACHE_MB

GOAL_IMPORT = 20_000
GOAL_EXPORT = 50_000
MEMORY_LIMIT_MB = 300


@dataclass
class MovingResult:
    rows: int
    import_rate: float = 0.0
    import_seconds: float = 0.0
    import_peak_mb: float = 0.0
    rerun_rate: float = 0.0
    export_rates: dict[str, float] = field(default_factory=dict)
    check: dict[str, Any] = field(default_factory=dict)
    # CPU of the import per contact, in microseconds: its own process, the database's
    # backends (None: not measured here, as SQLite's work is the import process's own).
    import_cpu_us: float = 0.0
    database_cpu_us: float | None = None
    load_average: float = 0.0
    # How busy the machine's cores were during the import, all processes (100: every core).
    machine_busy_pct: float = 0.0
    # The database alone, loading the same rows: contacts/s, and its CPU per contact.
    floor_rate: float = 0.0
    floor_database_cpu_us: float | None = None
    # PostgreSQL: the same rows by COPY on two connections at once (half the contacts each),
    # the database's best on this machine; 0 where not measured.
    parallel_floor_rate: float = 0.0
    parallel_floor_database_cpu_us: float | None = None
    # SQLite: the same rows as INSERT statements through the driver, a batch of contacts a
    # transaction, as the import sends them (contacts/s); 0 where not measured.
    statements_rate: float = 0.0
    # SQLite: the same rows by INSERT ... SELECT, a batch of contacts a transaction (each
    # table's share of them, in the order written): what batching costs, without the driver.
    batched_rate: float = 0.0


# What an import writes, in the order its foreign keys need (credit_day_totals: a row per
# day and kind, not per contact, left out).
_IMPORTED_TABLES = (
    "customers",
    "identities",
    "wallets",
    "credit_entries",
    "outbox_events",
)


def write_file(path: Path, rows: int) -> tuple[Decimal, int]:
    money, points = Decimal(0), 0
    with path.open("w") as handle:
        handle.write("email,name,phone,shopify_id,birthday,global_balance,local_balance\n")
        for i in range(rows):
            cents = i % 10_000
            money += Decimal(cents) / 100
            points += i % 500
            handle.write(
                f"bench{i}@example.com,Contact {i},+1415{i % 10_000_000:07d},{10_000_000 + i},"
                f"1985-0{1 + i % 9}-1{i % 9},{cents / 100:.2f},{i % 500}\n"
            )
    return money, points


def _tree_rss_mb(pid: int) -> float:
    """The peak resident memory of a process and of its children (an import's reader), each
    its own high-water mark (``VmHWM``), summed, in MB."""
    total = 0
    pending: list[tuple[int, int | None]] = [(pid, None)]
    while pending:
        current, parent = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if parent is not None and int(fields.get("PPid", "0")) != parent:
            continue  # the children list is not exact while they come and go: checked here
        total += int(fields.get("VmHWM", "0 kB").split()[0])
        pending += [(int(child), current) for child in children]
    return total / 1024


def _timed(args: list[str]) -> tuple[float, float, str]:
    """Run ``patron ARGS``: seconds, the peak RSS of its process and any it started (summed,
    sampled every 50 ms), in MB, and its stdout. Not the child's ``ru_maxrss``: Linux starts a
    new program's count at the memory of the process that started it (this one, which may be
    large after a floor), so it once reported 866 MB for an import of 120."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(PATRON), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=clean_environment({}),
        text=True,
    )
    assert process.stdout is not None
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, _tree_rss_mb(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = process.stdout.read()
    done.set()
    sampler.join()
    process.wait()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"patron {' '.join(args[:2])} exited {process.returncode}")
    return seconds, peak, out


def run_moving(url: str, rows: int, workdir: Path, say: Callable[[str], None]) -> MovingResult:
    result = MovingResult(rows=rows)
    account = patron_json("account", "create", "--name", "Moving bench", "--database", url)
    file = workdir / "moving.csv"
    money, points = write_file(file, rows)
    base = ["--account", account["uuid"], "--database", url]
    with backend_pids(url) as backends, CpuWindow(None, backends) as window:
        seconds, peak, out = _timed(["import", "contacts", str(file), *base])
    report = json.loads(out)
    # The command's own figure: from its first row to its last commit (not its start-up).
    result.import_seconds, result.import_peak_mb = report["seconds"], peak
    result.import_rate = report["rows_per_second"]
    use = window.use
    # The import process is this one's child: its CPU (start-up included) is in the load
    # generator's column, with this process's own (a sampler thread, next to nothing).
    result.import_cpu_us = use.load_generator_pct / 100 * use.seconds / rows * 1e6
    if use.database_pct is not None:
        result.database_cpu_us = use.database_pct / 100 * use.seconds / rows * 1e6
    result.load_average = use.load_average
    result.machine_busy_pct = use.machine_pct / (os.cpu_count() or 1)
    database = (
        f", database {result.database_cpu_us:,.0f} µs" if result.database_cpu_us is not None else ""
    )
    say(
        f"  import {rows:,} rows: {result.import_rate:,.0f} rows/s "
        f"({seconds:,.1f} s with start-up), peak {peak:,.0f} MB; CPU per contact: "
        f"import {result.import_cpu_us:,.0f} µs{database}; the machine's "
        f"{os.cpu_count() or 1} cores {result.machine_busy_pct:.0f}% busy "
        f"(load average {use.load_average:.2f})"
    )
    _, _, out = _timed(["import", "contacts", str(file), *base])
    again = json.loads(out)
    result.rerun_rate = again["rows_per_second"]
    say(f"  the same import again: {result.rerun_rate:,.0f} rows/s")
    for what in ("contacts", "entries"):
        target = workdir / f"export-{what}.csv"
        _, _, out = _timed(["export", what, *base, "--out", str(target)])
        exported = json.loads(out)
        result.export_rates[what] = exported["rows_per_second"]
        say(f"  export {what}: {exported['rows']:,} rows, {exported['rows_per_second']:,} rows/s")
    verified = patron_json("ledger", "verify", "--database", url, allow_failure=True)
    floor_seconds, floor_cpu = database_floor(url, account["uuid"], workdir)
    result.floor_rate = rows / floor_seconds
    if floor_cpu is not None:
        result.floor_database_cpu_us = floor_cpu / rows * 1e6
    floor_cpu_text = (
        f", database CPU {result.floor_database_cpu_us:,.0f} µs a contact"
        if result.floor_database_cpu_us is not None
        else ""
    )
    say(
        f"  the database alone, the same rows: {result.floor_rate:,.0f} contacts/s"
        f"{floor_cpu_text}; the import at {result.import_rate / result.floor_rate:.0%} of it"
    )
    if not url.startswith("sqlite"):
        parallel_seconds, parallel_cpu = parallel_floor(url, account["uuid"], workdir)
        result.parallel_floor_rate = rows / parallel_seconds
        if parallel_cpu is not None:
            result.parallel_floor_database_cpu_us = parallel_cpu / rows * 1e6
        say(
            f"  the same rows by COPY on two connections at once, half the contacts each: "
            f"{result.parallel_floor_rate:,.0f} contacts/s"
            + (
                f", database CPU {result.parallel_floor_database_cpu_us:,.0f} µs a contact"
                if result.parallel_floor_database_cpu_us is not None
                else ""
            )
            + f"; the import at {result.import_rate / result.parallel_floor_rate:.0%} of it"
        )
        say("  " + _verdict(result))
    if url.startswith("sqlite"):
        batches = max(1, rows // 1000)
        result.batched_rate = rows / _sqlite_floor(url, account["uuid"], workdir, batches)
        say(
            f"  the same rows by INSERT ... SELECT, 1,000 contacts a transaction: "
            f"{result.batched_rate:,.0f} contacts/s; the import at "
            f"{result.import_rate / result.batched_rate:.0%} of it"
        )
        result.statements_rate = rows / _sqlite_statements(url, account["uuid"], workdir, rows)
        say(
            f"  the same rows as INSERT statements through the driver, alone (1,000 contacts a "
            f"transaction): {result.statements_rate:,.0f} contacts/s; the import at "
            f"{result.import_rate / result.statements_rate:.0%} of it"
        )
    result.check = {
        "ok": report["created"] == rows
        and report["credit_imported"]["GLOBAL"] == f"{money:.2f}"
        and report["credit_imported"]["LOCAL"] == str(points)
        and again["created"] == 0
        and again["credit_imported"]["GLOBAL"] == "0.00"
        and bool(verified.get("ok")),
        "created": report["created"],
        "credit_imported": report["credit_imported"],
        "rerun_created": again["created"],
        "ledger_verify": verified.get("ok"),
    }
    return result


def _verdict(result: MovingResult) -> str:
    """Whether the import's goal is within what the database itself stores on this machine
    (PostgreSQL: its best, ``COPY`` on two connections), and where the import's CPU went."""
    floor = result.parallel_floor_rate
    shares = ""
    if result.database_cpu_us is not None:
        total = result.import_cpu_us + result.database_cpu_us
        shares = (
            f"; of the CPU the import took, the database used "
            f"{result.database_cpu_us / total:.0%}, the import's own processes "
            f"{result.import_cpu_us / total:.0%}"
        )
    if floor >= GOAL_IMPORT:
        return f"the database alone stores {floor:,.0f} contacts/s, above the goal{shares}"
    return (
        f"the goal ({GOAL_IMPORT:,} rows/s) is above what the database alone stores on this "
        f"machine ({floor:,.0f} contacts/s): no client reaches it here{shares}"
    )


def _migrate(url: str) -> None:
    subprocess.run(
        [str(PATRON), "migrate", "--database", url],
        check=True,
        capture_output=True,
        env=clean_environment({}),
    )


def database_floor(url: str, account_uuid: str, workdir: Path) -> tuple[float, float | None]:
    """Seconds the database alone takes to store the rows the import wrote for the account,
    into a freshly migrated store (the account's row copied first, not timed), and its CPU
    seconds meanwhile (PostgreSQL on this machine; None otherwise)."""
    if url.startswith("sqlite"):
        return _sqlite_floor(url, account_uuid, workdir), None
    return _postgresql_floor(url, account_uuid, workdir)


def _postgresql_floor(url: str, account_uuid: str, workdir: Path) -> tuple[float, float | None]:
    """One connection: ``COPY`` of each table after another, each analysed after its rows."""
    files = _copied_out(url, account_uuid, workdir)
    try:
        return _load_copies(url, files)
    finally:
        for path in files.values():
            path.unlink(missing_ok=True)


def parallel_floor(url: str, account_uuid: str, workdir: Path) -> tuple[float, float | None]:
    """The database's best on this machine: the same rows by ``COPY`` on two connections at
    once, as the import writes on two, each loading the rows of half the contacts (table by
    table, in the order the foreign keys need; each table analysed once both halves are in)."""
    files = _copied_out(url, account_uuid, workdir)
    halves = _halves(url, files)
    try:
        return _load_copies(url, files, halves)
    finally:
        for path in [*files.values(), *(path for pair in halves.values() for path in pair)]:
            path.unlink(missing_ok=True)


def _copied_out(url: str, account_uuid: str, workdir: Path) -> dict[str, Path]:
    files = {table: workdir / f"floor-{table}.copy" for table in ("accounts", *_IMPORTED_TABLES)}
    with psycopg.connect(libpq(url)) as source:
        for table, path in files.items():
            query = sql.SQL("COPY (SELECT * FROM {} WHERE account_id = {}) TO STDOUT").format(
                sql.Identifier(table), sql.Literal(account_uuid)
            )
            with path.open("wb") as out, source.cursor().copy(query) as copy:
                for block in copy:
                    out.write(block)
    return files


# How a table's rows are split by contact: the column naming it, and the table whose half
# decides (None: the row's own key, customers by line); outbox events and keys by line.
_SPLIT_BY = {
    "identities": ("customer_uuid", "customers"),
    "wallets": ("customer_uuid", "customers"),
    "credit_entries": ("wallet_uuid", "wallets"),
}


def _halves(url: str, files: dict[str, Path]) -> dict[str, tuple[Path, Path]]:
    """Each table's copied rows in two files, a contact's rows in the same one."""
    with psycopg.connect(libpq(url)) as connection:
        columns = {
            table: [
                column.name
                for column in connection.execute(
                    sql.SQL("SELECT * FROM {} LIMIT 0").format(sql.Identifier(table))
                ).description
                or []
            ]
            for table in _IMPORTED_TABLES
        }
    first_half: dict[str, set[str]] = {}  # table: the keys (uuid) of its rows in the first half
    halves: dict[str, tuple[Path, Path]] = {}
    for table in _IMPORTED_TABLES:
        lines = files[table].read_bytes().splitlines(keepends=True)
        by = _SPLIT_BY.get(table)
        if by is None:
            first = [index % 2 == 0 for index in range(len(lines))]
        else:
            at, owner = columns[table].index(by[0]), first_half[by[1]]
            first = [line.split(b"\t")[at].decode() in owner for line in lines]
        if "uuid" in columns[table]:
            at = columns[table].index("uuid")
            first_half[table] = {
                line.split(b"\t")[at].decode()
                for line, mine in zip(lines, first, strict=True)
                if mine
            }
        pair = (files[table].with_suffix(".0.copy"), files[table].with_suffix(".1.copy"))
        pair[0].write_bytes(b"".join(line for line, mine in zip(lines, first, strict=True) if mine))
        pair[1].write_bytes(
            b"".join(line for line, mine in zip(lines, first, strict=True) if not mine)
        )
        halves[table] = pair
    return halves


def _load_copies(
    url: str, files: dict[str, Path], halves: dict[str, tuple[Path, Path]] | None = None
) -> tuple[float, float | None]:
    """Seconds to load the copied rows into a freshly migrated database, and the backends'
    CPU seconds meanwhile. Without ``halves``: every table on one connection in one
    transaction, each analysed after its rows (the foreign keys of the next table look them
    up, planned on them, as the import has its tables analysed). With them: each table's
    halves at once on two connections, each committed, then the table analysed, then the
    next table."""
    parsed = make_url(url)
    name = f"{parsed.database}_floor"
    floor_url = parsed.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(libpq(url), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        _migrate(floor_url)
        with psycopg.connect(libpq(floor_url)) as first:
            _copy_in(first, "accounts", files["accounts"])
            first.commit()
            if halves is None:
                with backend_pids(floor_url) as backends, CpuWindow(None, backends) as window:
                    started = time.perf_counter()
                    for table in _IMPORTED_TABLES:
                        _copy_in(first, table, files[table])
                        first.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
                    first.commit()
                    seconds = time.perf_counter() - started
            else:
                with (
                    psycopg.connect(libpq(floor_url)) as second,
                    backend_pids(floor_url) as backends,
                    CpuWindow(None, backends) as window,
                ):
                    started = time.perf_counter()
                    for table in _IMPORTED_TABLES:
                        threads = [
                            threading.Thread(target=_copy_committed, args=(lane, table, half))
                            for lane, half in zip((first, second), halves[table], strict=True)
                        ]
                        for thread in threads:
                            thread.start()
                        for thread in threads:
                            thread.join()
                        first.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
                        first.commit()
                    seconds = time.perf_counter() - started
        use = window.use
        cpu = None if use.database_pct is None else use.database_pct / 100 * use.seconds
        return seconds, cpu
    finally:
        with psycopg.connect(libpq(url), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _copy_committed(connection: psycopg.Connection[Any], table: str, path: Path) -> None:
    _copy_in(connection, table, path)
    connection.commit()


def _copy_in(connection: psycopg.Connection[Any], table: str, path: Path) -> None:
    query = sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table))
    with connection.cursor().copy(query) as copy, path.open("rb") as source:
        while block := source.read(1 << 20):
            copy.write(block)


def _sqlite_floor(url: str, account_uuid: str, workdir: Path, batches: int = 1) -> float:
    """Seconds SQLite takes to copy the account's rows from the imported file into a freshly
    migrated one, table after table, in one transaction, or (``batches``) in that many, each
    with its share of every table's rows in the order they were written, as the import's
    batches write them."""
    source = make_url(url).database
    floor = workdir / "floor.db"
    floor.unlink(missing_ok=True)
    _migrate(f"sqlite:///{floor}")
    connection = sqlite3.connect(floor, isolation_level=None)
    try:
        # As an import opens its store (``core.db``): WAL, a full sync at each commit, keys
        # on, the bulk page cache.
        _as_an_import(connection)
        connection.execute("ATTACH DATABASE ? AS imported", (source,))

        def columns_of(table: str) -> str:
            names = [row[1] for row in connection.execute(f'PRAGMA main.table_info("{table}")')]
            return ", ".join(f'"{column}"' for column in names)

        listed = {table: columns_of(table) for table in ("accounts", *_IMPORTED_TABLES)}

        def copy(table: str, rowids: tuple[int, int] | None = None) -> None:
            columns = listed[table]
            # A batch's rows found by their rowids (``+``: not through the account's index,
            # which would walk all of the account's rows for each batch).
            where = "account_id = ?" if rowids is None else "+account_id = ?"
            within = "" if rowids is None else " AND rowid BETWEEN ? AND ?"
            connection.execute(
                f'INSERT INTO main."{table}" ({columns}) SELECT {columns} '
                f'FROM imported."{table}" WHERE {where}{within}',
                (account_uuid, *(rowids or ())),
            )

        connection.execute("BEGIN")
        copy("accounts")
        connection.execute("COMMIT")
        # Each batch's (first, last) rowid of each table's rows, read before the clock starts.
        shares: list[list[tuple[str, tuple[int, int] | None]]] = [
            [(table, None) for table in _IMPORTED_TABLES]
        ]
        if batches > 1:
            shares = [[] for _ in range(batches)]
            for table in _IMPORTED_TABLES:
                found = [
                    rowid
                    for (rowid,) in connection.execute(
                        f'SELECT rowid FROM imported."{table}" WHERE account_id = ? ORDER BY rowid',
                        (account_uuid,),
                    )
                ]
                for batch in range(batches):
                    if part := _share(found, batch, batches):
                        shares[batch].append((table, (part[0], part[-1])))
        started = time.perf_counter()
        for share in shares:
            connection.execute("BEGIN")
            for table, rowids in share:
                copy(table, rowids)
            connection.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        connection.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{floor}{suffix}").unlink(missing_ok=True)


def _as_an_import(connection: sqlite3.Connection) -> None:
    """The settings an import's connection has (``core.db``)."""
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute(f"PRAGMA cache_size = {-1024 * BULK_PAGE_CACHE_MB}")


def _all_equal(column: Sequence[Any], first: Any) -> bool:
    """Whether every value of ``column`` equals ``first``, of its type: rows read back from
    the store share values by equality, not as the one object a batch's rows hold."""
    return all(value == first and type(value) is type(first) for value in column)


def _share(rows: list[Any], batch: int, batches: int) -> list[Any]:
    """Batch number BATCH's share of ROWS, split into BATCHES in their order."""
    return rows[len(rows) * batch // batches : len(rows) * (batch + 1) // batches]


def _sqlite_statements(url: str, account_uuid: str, workdir: Path, rows: int) -> float:
    """The import's own writes without the import: each table's rows for the account, read
    back in the order written, sent again as ``INSERT ... VALUES`` of many rows each (as
    ``core.bulk`` sends them: a value all of a batch's rows share bound once, up to 999
    values a statement) through the driver into a freshly
    migrated store, one transaction per 1,000 contacts (each table's share of them), as the
    import's batches send them; seconds (the statements' texts and values built before)."""
    source = make_url(url).database or ""
    floor = workdir / "statements.db"
    floor.unlink(missing_ok=True)
    _migrate(f"sqlite:///{floor}")
    read = sqlite3.connect(source)
    connection = sqlite3.connect(floor, isolation_level=None)
    try:
        _as_an_import(connection)
        batches = max(1, rows // 1000)
        work: list[tuple[str, str, list[Any]]] = []
        for table in ("accounts", *_IMPORTED_TABLES):
            names = [row[1] for row in connection.execute(f'PRAGMA main.table_info("{table}")')]
            columns = ", ".join(f'"{column}"' for column in names)
            found = read.execute(
                f'SELECT {columns} FROM "{table}" WHERE account_id = ? ORDER BY rowid',
                (account_uuid,),
            ).fetchall()
            work.append((table, columns, found))

        def statements(table: str, columns: str, rows: list[Any]) -> list[tuple[str, list[Any]]]:
            # As ``core.bulk.insert_tuples`` sends them: a value every row holds bound once
            # (the account, the batch's time), a NULL every row has written as NULL, the
            # others up to 999 values a statement, in statements of the same texts.
            shape, shared, varying = statement_shape(zip(*rows, strict=True), _all_equal)
            width = len(varying)
            per = max(1, min(500, (999 - len(shared)) // width if width else len(rows)))
            flat = [value for row in zip(*varying, strict=True) for value in row]
            found = []
            for start in range(0, len(rows), per):
                count = min(per, len(rows) - start)
                text = values_statement(table, columns, shape, len(shared), width, count)
                found.append((text, [*shared, *flat[start * width : (start + count) * width]]))
            return found

        (account_table, account_columns, account_rows), tables = work[0], work[1:]
        for statement, values in statements(account_table, account_columns, account_rows):
            connection.execute(statement, values)
        # Each batch's statements, texts and values, built before the clock starts.
        sent = [
            [
                pair
                for table, columns, found in tables
                if (share := _share(found, batch, batches))
                for pair in statements(table, columns, share)
            ]
            for batch in range(batches)
        ]
        started = time.perf_counter()
        for batch_statements in sent:
            connection.execute("BEGIN IMMEDIATE")
            for statement, values in batch_statements:
                connection.execute(statement, values)
            connection.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        read.close()
        connection.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{floor}{suffix}").unlink(missing_ok=True)


def main() -> None:
    from bench.stores import open_store

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    args = parser.parse_args()
    found: dict[str, Any] = {}
    for kind in args.stores.split(","):
        with tempfile.TemporaryDirectory() as folder, open_store(kind, Path(folder)) as store:
            print(f"== {kind}")
            subprocess.run(
                [str(PATRON), "migrate", "--database", store.url],
                check=True,
                capture_output=True,
                env=clean_environment({}),
            )
            result = run_moving(store.url, args.rows, Path(folder), print)
            found[kind] = asdict(result)
            print(
                f"  goal: import >= {GOAL_IMPORT:,} rows/s, export >= {GOAL_EXPORT:,} rows/s, "
                f"peak <= {MEMORY_LIMIT_MB} MB; check {'ok' if result.check['ok'] else 'FAILED'}"
            )
    print(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
