"""``patron worker`` and ``patron outbox`` as processes: a kill -9 mid-batch loses no event."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from patron.cli.main import app
from patron.core.db import Database
from patron.core.events import outbox_events
from tests.support.databases import own_database
from tests.support.receiver import running_receiver
from tests.support.tenants import Tenant, make_contact, new_tenant
from tests.support.webhooks import make_webhook, outbox_states, tenant_dispatcher

WORKER_ENV = {
    "PATRON_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
    "PATRON_OUTBOX_LEASE_SECONDS": "1",
    "PATRON_OUTBOX_CONCURRENCY": "1",
    "PATRON_OUTBOX_RETRY_BASE_SECONDS": "0",
}


def patron_process(database_url: str, *args: str) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    environment.update(WORKER_ENV, PATRON_DATABASE_URL=database_url)
    return subprocess.Popen(
        [sys.executable, "-m", "patron", *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def patron(database_url: str, *args: str) -> Any:
    """The command in this process (a new one costs seconds of imports), its JSON output."""
    result = CliRunner().invoke(app, [*args, "--database", database_url])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def quiet_store(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[tuple[str, Database]]:
    """A store of its own: ``patron worker`` delivers every account's events, and the shared
    store holds those of the other tests, some aimed at receivers long gone."""
    with own_database(request, database_url, tmp_path) as store:
        yield store


def test_a_worker_killed_mid_batch_loses_no_event(quiet_store: tuple[str, Database]) -> None:
    database_url, db = quiet_store
    tenant = new_tenant(db)
    with running_receiver(delay=0.3) as receiver:
        make_webhook(db, tenant, receiver.url, ["CONTACT_CREATED"])
        for _ in range(6):
            make_contact(db, tenant)
        worker = patron_process(database_url, "worker", "--once")
        deadline = time.monotonic() + 60
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        assert worker.returncode == -signal.SIGKILL, worker.communicate()[1]
        interrupted = outbox_states_list(db, tenant)
        assert "delivering" in interrupted

        time.sleep(1.1)  # the dead worker's lease runs out
        with tenant_dispatcher(db, tenant) as survivor:
            survivor.drain()

    assert sorted(set(receiver.event_ids())) == sorted(event_ids(db, tenant))
    assert {state for state, _, _ in outbox_states_by_id(db, tenant).values()} == {"delivered"}


def outbox_states_list(db: Database, tenant: Tenant) -> list[str]:
    return [state for state, _, _ in outbox_states_by_id(db, tenant).values()]


def outbox_states_by_id(db: Database, tenant: Tenant) -> dict[str, tuple[str, int, str | None]]:
    with db.read() as connection:
        rows = connection.execute(
            select(outbox_events).where(outbox_events.c.account_id == tenant.uuid)
        ).all()
    return {row.event_id: (row.status, row.attempts, row.last_error) for row in rows}


def event_ids(db: Database, tenant: Tenant) -> list[str]:
    return list(outbox_states_by_id(db, tenant))


def test_operators_list_retry_and_purge_the_outbox(
    db: Database, database_url: str, tenant: Tenant
) -> None:
    make_contact(db, tenant)
    with db.write() as connection:
        connection.execute(
            update(outbox_events)
            .where(outbox_events.c.account_id == tenant.uuid)
            .values(status="dead", attempts=10, last_error="HTTP 500")
        )

    listed = patron(database_url, "outbox", "list", "--status", "dead", "--account", tenant.uuid)
    retried = patron(database_url, "outbox", "retry", "--account", tenant.uuid)
    after_retry = outbox_states(db, tenant)
    with db.write() as connection:
        connection.execute(
            update(outbox_events)
            .where(outbox_events.c.account_id == tenant.uuid)
            .values(status="delivered")
        )
    purged = patron(database_url, "outbox", "purge", "--older-than-days", "0")

    assert [(event["event_type"], event["last_error"]) for event in listed["events"]] == [
        ("contact.created", "HTTP 500")
    ]
    assert listed["counts"]["dead"] >= 1
    assert retried == {"retried": 1}
    assert after_retry == {"contact.created": ("pending", 0, None)}
    assert purged["purged"] >= 1
    assert outbox_states(db, tenant) == {}


def test_a_store_error_in_a_batch_does_not_stop_the_worker_loop() -> None:
    from sqlalchemy.exc import OperationalError

    from patron.cli.worker import _deliver_once

    class BrokenStore:
        def run_once(self) -> int:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    assert _deliver_once(BrokenStore()) == 0  # type: ignore[arg-type]
