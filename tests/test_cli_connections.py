"""A command run in-process (a test, a script calling the app) closes its store's connections
when it ends: a long-lived caller that runs many commands does not pile them up until the
PostgreSQL server's connection ceiling refuses everyone else."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import event, make_url, text
from sqlalchemy.pool import Pool
from typer.testing import CliRunner

from patron.cli.main import app
from patron.core.db import Database
from patron.moving.importer import CONNECTIONS
from tests.support.tenants import Tenant


def _held(db: Database, database_url: str) -> int:
    """Connections this test holds to its store: server backends carrying this test's
    application name on PostgreSQL (other tests share the server), this process's open handles
    of the file on SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        target = Path(str(url.database)).resolve()
        handles = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                if Path(os.readlink(f"/proc/self/fd/{fd}")) == target:
                    handles += 1
            except OSError:
                continue
        return handles
    with db.read() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = :name AND application_name = :application"
                ),
                {"name": url.database, "application": os.environ["PGAPPNAME"]},
            ).scalar_one()
        )


def _settled(db: Database, database_url: str, *, at_most: int | None) -> int:
    """``_held`` once a closed connection's server backend has had time to exit (it is listed
    for a moment after the client has gone): at most ``at_most`` within 3 s, or, with no
    bound, the same in two samples 0.2 s apart."""
    deadline = time.monotonic() + 3
    last = _held(db, database_url)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if at_most is not None and last <= at_most:
            return last
        now = _held(db, database_url)
        if at_most is None and now == last:
            return now
        last = now
    return last


def test_commands_run_in_process_leave_no_connection_open(
    db: Database, database_url: str, tenant: Tenant, tmp_path: Path
) -> None:
    runner = CliRunner()
    commands = (
        ["account", "list"],
        ["token", "list", "--account", tenant.uuid],
        ["ledger", "verify"],
        ["export", "contacts", "--account", tenant.uuid, "--out", str(tmp_path / "c.csv")],
    )
    held: list[int] = []
    for _ in range(3):
        for arguments in commands:
            result = runner.invoke(app, [*arguments, "--database", database_url])
            assert result.exit_code == 0, result.output
        held.append(_settled(db, database_url, at_most=held[0] if held else None))
    # The first round may leave what a process keeps once (the driver's own); later rounds
    # add nothing.
    assert held[1] == held[2] == held[0], held


def test_an_import_reuses_its_connections_from_batch_to_batch(
    database_url: str, tenant: Tenant, tmp_path: Path
) -> None:
    """Each batch an import writes on PostgreSQL takes two connections (its transaction, and
    one that reserves its customer numbers and commits at once), two batches at a time: the
    command keeps all four open, so 50 batches open no more connections than one does. With
    two kept, the others were opened and closed for every batch (a new server backend each)."""
    file = tmp_path / "contacts.csv"
    with file.open("w") as handle:
        handle.write("email,name,global_balance\n")
        for i in range(1_000):
            handle.write(f"pooled{i}@example.com,Pooled {i},{i % 7}.50\n")
    opened: list[object] = []

    def connected(dbapi_connection: object, _record: object) -> None:
        opened.append(dbapi_connection)

    event.listen(Pool, "connect", connected)
    try:
        result = CliRunner().invoke(
            app,
            [
                *("import", "contacts", str(file), "--account", tenant.uuid),
                *("--batch-size", "20", "--database", database_url),
            ],
        )
    finally:
        event.remove(Pool, "connect", connected)
    assert result.exit_code == 0, result.output
    assert '"created": 1000' in result.output
    # The schema check's own connection, then at most CONNECTIONS for the batches.
    assert len(opened) <= 1 + CONNECTIONS, len(opened)
