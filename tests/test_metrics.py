"""/metrics: every worker process counted, bounded labels, the ledger counted after commit,
the store's outbox gauges, the worker's jobs; on its own loopback port, never the API's."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from patron.api.metrics import ANONYMOUS, OTHER, Operations, surface_of
from patron.core.db import Database
from patron.integrations.outbox import store
from tests.support.server import ProcessServer, free_port
from tests.support.tenants import make_contact, new_tenant

pytestmark = pytest.mark.slow

ADD = """mutation AddCreditEntry($entry: AddCreditEntryInput!) {
  addCreditEntry(creditEntry: $entry) { success errors }
}"""
GET_CONTACTS = "query GetContacts { account { contacts(limit: 1) { uuid } } }"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    text = httpx.get(url, timeout=10).text
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def label_values(samples: Samples, name: str, label: str) -> set[str]:
    return {dict(ls)[label] for (n, ls) in samples if n == name and label in dict(ls)}


WORKERS = 2


@pytest.fixture
def metrics_server(database_url: str, tmp_path: Path) -> Iterator[tuple[ProcessServer, str]]:
    port = free_port()
    multiproc = tmp_path / "multiproc"
    server = ProcessServer(
        database_url,
        workers=WORKERS,
        env={"PATRON_METRICS_PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": str(multiproc)},
    ).start()
    try:
        yield server, f"http://127.0.0.1:{port}/metrics"
    finally:
        server.stop()


def test_metrics_add_up_every_worker_process_with_bounded_labels(
    metrics_server: tuple[ProcessServer, str], db: Database
) -> None:
    server, metrics_url = metrics_server
    tenant = new_tenant(db)
    wallet = make_contact(db, tenant).wallet_uuid
    before = scrape(metrics_url)
    headers = {"Authorization": f"Bearer {tenant.token}"}
    sent = 0
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        for _ in range(20):  # two worker processes share these
            assert client.post("/graphql", json={"query": GET_CONTACTS}).status_code == 200
        entry = {"walletUuid": wallet, "action": "ADD", "creditType": "GLOBAL", "amount": "12.50"}
        added = client.post("/graphql", json={"query": ADD, "variables": {"entry": entry}})
        assert added.json()["data"]["addCreditEntry"]["success"] is True
        spend = {**entry, "action": "REMOVE", "amount": "2.25"}
        spent = client.post("/graphql", json={"query": ADD, "variables": {"entry": spend}})
        assert spent.json()["data"]["addCreditEntry"]["success"] is True
        too_much = {**entry, "action": "REMOVE", "amount": "1000"}  # refused: rolled back
        refused = client.post("/graphql", json={"query": ADD, "variables": {"entry": too_much}})
        assert refused.json()["data"]["addCreditEntry"]["success"] is False
        for name in ("ClientChoseThis", "AnotherOne"):
            query = f"query {name} {{ account {{ uuid }} }}"
            client.post("/graphql", json={"query": query, "operationName": name})
        client.post("/graphql", json={"query": "{ account { uuid } }"})
        client.post("/graphql", json={"query": "{ nope }"})
        sent = 20 + 3 + 2 + 2
        unauthenticated = httpx.post(
            f"{server.base_url}/graphql", json={"query": GET_CONTACTS}, timeout=30
        )
        assert unauthenticated.status_code == 401
        # The API's own port does not serve them.
        assert client.get("/metrics").status_code in (404, 405)
    after = scrape(metrics_url)

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    count = "patron_request_duration_seconds_count"
    assert grew(count, surface="native") == sent + 1
    assert grew(count, surface="native", operation="GetContacts") == 20
    # Refused before its body is read: no operation.
    assert grew(count, surface="native", operation="none") == 1
    assert grew(count, surface="native", operation="AddCreditEntry") == 3
    assert grew(count, surface="native", operation=OTHER) == 2
    assert grew(count, surface="native", operation=ANONYMOUS) == 2
    assert label_values(after, count, "operation") <= {
        "GetContacts",
        "AddCreditEntry",
        OTHER,
        ANONYMOUS,
        "none",
    }
    answers = "patron_responses_total"
    assert grew(answers, surface="native", status="401", code="UNAUTHENTICATED") == 1
    assert grew(answers, surface="native", status="200", code="GRAPHQL_VALIDATION_FAILED") == 1
    assert grew(answers, surface="native", status="200", code="none") >= 20
    # Counted once committed: the refused spend wrote nothing and counts nothing.
    entries = "patron_ledger_entries_total"
    assert grew(entries, action="ADD", credit_type="GLOBAL") == 1
    assert grew(entries, action="REMOVE", credit_type="GLOBAL") == 1
    amount = "patron_ledger_amount_total"
    assert grew(amount, action="ADD", credit_type="GLOBAL") == pytest.approx(12.5)
    assert grew(amount, action="REMOVE", credit_type="GLOBAL") == pytest.approx(2.25)
    # The pool: between requests nothing is checked out but the connection each worker's
    # event loop keeps for its known reads; gauges of the store read at the scrape.
    assert value(after, "patron_db_pool_connections_in_use") <= WORKERS
    assert ("patron_db_pool_wait_seconds_count", ()) in after
    assert value(after, "patron_store_up") == 1
    by_status, _ = store.gauges(db)
    assert value(after, "patron_outbox_events", status="pending") == by_status.get("pending", 0)
    assert value(after, "patron_outbox_dead_letters") == by_status.get("dead", 0)
    assert ("patron_outbox_oldest_due_age_seconds", ()) in after


def test_serve_makes_and_removes_its_multiprocess_directory(database_url: str) -> None:
    port = free_port()
    temporary = Path(tempfile.gettempdir())
    before = set(temporary.glob("patron-metrics-*"))
    server = ProcessServer(database_url, workers=2, env={"PATRON_METRICS_PORT": str(port)})
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ  # not the operator's: its own
    try:
        server.start()
        made = set(temporary.glob("patron-metrics-*")) - before
        assert len(made) == 1
        httpx.get(f"{server.base_url}/healthz", timeout=10)
        assert any(next(iter(made)).glob("*.db"))
        assert "patron_responses_total" in httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text
    finally:
        server.stop()
    assert not any(path.exists() for path in made)


def test_the_metrics_port_is_off_unless_set_and_on_loopback_by_default() -> None:
    from patron.core.settings import Settings

    assert Settings().metrics_port is None
    assert Settings().worker_metrics_port is None
    assert Settings().metrics_host == "127.0.0.1"


def test_the_worker_counts_its_sweeps_and_deliveries(database_url: str, db: Database) -> None:
    tenant = new_tenant(db)
    headers = {"Authorization": f"Bearer {tenant.token}"}
    create = """mutation($c: ContactInput!) { createContact(contact: $c) { success } }"""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PATRON_", "PROMETHEUS_"))}
    env.update(
        PATRON_DATABASE_URL=database_url,
        PATRON_WORKER_METRICS_PORT=str(port),
        PATRON_LOG_FORMAT="json",
        PATRON_OUTBOX_MAX_ATTEMPTS="1",
    )
    server = ProcessServer(database_url, workers=1).start()
    try:
        # No Shopify connection: the worker parks the event as a dead letter.
        contact = {"email": "metrics-dead@example.com", "connectedServices": ["SHOPIFY"]}
        made = httpx.post(
            f"{server.base_url}/graphql",
            json={"query": create, "variables": {"c": contact}},
            headers=headers,
            timeout=30,
        )
        assert made.json()["data"]["createContact"]["success"] is True
    finally:
        server.stop()
    worker = subprocess.Popen(
        [sys.executable, "-m", "patron", "worker", "--interval", "0.5", "--poll", "0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 60
        samples: Samples = {}
        while time.monotonic() < deadline:
            try:
                samples = scrape(url)
            except httpx.TransportError:
                samples = {}
            if (
                value(samples, "patron_expiry_sweeps_total") >= 1
                and value(samples, "patron_outbox_deliveries_total", outcome="dead") >= 1
            ):
                break
            time.sleep(0.2)
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert value(samples, "patron_expiry_sweeps_total") >= 1, output
    assert value(samples, "patron_expiry_last_sweep_timestamp_seconds") > 0
    assert value(samples, "patron_outbox_deliveries_total", outcome="dead") >= 1, output
    # PATRON_LOG_FORMAT=json: the worker's lines are JSON objects, its jobs named.
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert {"worker", "expiry"} <= {line.get("job") for line in lines}


@pytest.mark.parametrize(
    ("path", "surface"),
    [
        ("/graphql", "native"),
        ("/compat/lightfunnels/graphql", "lightfunnels"),
        ("/compat/loyaltydish/x/graphql", "loyaltydish"),
        ("/compat/commerce/api/v6/commerce.contacts.find", "commerce"),
        ("/compat/else", "other"),
        ("/readyz", "health"),
        ("/anything", "other"),
    ],
)
def test_a_surface_is_one_of_a_few_names(path: str, surface: str) -> None:
    assert surface_of(path) == surface


def test_operation_labels_stay_bounded_however_many_names_clients_send() -> None:
    operations = Operations(["MyShopSync"])
    names = {operations.label(f"query N{i} {{ a }}", None) for i in range(10_000)}
    names |= {operations.label("{ a }", f"Given{i}") for i in range(10_000)}

    assert names == {OTHER}
    assert operations.label("query MyShopSync { a }", None) == "MyShopSync"
    assert operations.label("  mutation CreateContact($c: X) { a }", None) == "CreateContact"
    assert operations.label("{ account { uuid } }", None) == ANONYMOUS
    assert operations.label("{ a }", "GetContacts") == "GetContacts"


def test_ledger_entries_count_once_committed_and_not_from_a_savepoint_rolled_back(
    tmp_path: Path,
) -> None:
    from patron.core import metrics

    url = f"sqlite:///{tmp_path / 'counted.db'}"
    database = Database(url, pool_size=1)
    metrics.enable()
    metrics.instrument(database.engine)
    counted = metrics.LEDGER_ENTRIES.labels("ADD", "LOCAL")
    amount = metrics.LEDGER_AMOUNT.labels("ADD", "LOCAL")
    before, before_amount = counted._value.get(), amount._value.get()
    try:
        with database.write() as connection:
            metrics.ledger_entry(connection, "ADD", "LOCAL", 1250, 2)
            inner = connection.begin_nested()
            metrics.ledger_entry(connection, "ADD", "LOCAL", 999, 2)
            inner.rollback()
            kept = connection.begin_nested()
            metrics.ledger_entry(connection, "ADD", "LOCAL", 5, 2)
            kept.commit()
        with contextlib.suppress(RuntimeError), database.write() as connection:
            metrics.ledger_entry(connection, "ADD", "LOCAL", 7, 0)
            raise RuntimeError("rolled back")
    finally:
        database.dispose()

    assert counted._value.get() - before == 2
    assert amount._value.get() - before_amount == pytest.approx(12.55)
