"""`python -m bench --peer vendure`: reading the peer's summary.json and the Patron ÷ peer ratio.

No network, no npm: a summary.json as Vendure's run.sh writes it, and Patron results built by
hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench import peer
from bench.load import WrkResult
from bench.options import Options, parse
from bench.run import OperationResult, StoreResult

# As run.sh writes it (SEED_COUNT=2000 BENCH_SECONDS=3 WARMUP_SECONDS=1).
SUMMARY = """{
  "peer": "vendure",
  "vendure_version": "3.7.3",
  "node_version": "v20.20.2",
  "postgres_version": "15.18",
  "wrk": {"threads": 1, "connections": 16, "seconds": 3, "warmup_seconds": 1},
  "boot_seconds": 9.8,
  "seed": {"created":2000,"failed":0,"seconds":25.1,"per_second":79.7,"concurrency":16,
           "perRequest":1},
  "customers_before_bench": 2000,
  "list_take50": {"requests":250,"duration_s":3.01,"rps":83.1,"p50_ms":190.20,"p90_ms":250.00,
    "p99_ms":320.50,"max_ms":400.00,"bad_responses":0,"socket_errors":0,
    "vendure_cpu_pct":72,"postgres_cpu_pct":95},
  "get_by_id": {"requests":1500,"duration_s":3.00,"rps":500.0,"p50_ms":30.00,"p90_ms":60.00,
    "p99_ms":115.00,"max_ms":150.00,"bad_responses":0,"socket_errors":0,
    "vendure_cpu_pct":110,"postgres_cpu_pct":30},
  "create_customer": {"requests":260,"duration_s":3.02,"rps":86.0,"p50_ms":185.00,
    "p90_ms":250.00,"p99_ms":310.00,"max_ms":350.00,"bad_responses":2,"socket_errors":1,
    "vendure_cpu_pct":71,"postgres_cpu_pct":97}
}"""


def _wrk(rps: float, p50: float, p99: float, bad: int = 0) -> WrkResult:
    return WrkResult(
        requests=int(rps * 3),
        responses=int(rps * 3),
        duration_s=3.0,
        rps=rps,
        p50_ms=p50,
        p90_ms=p99,
        p99_ms=p99,
        max_ms=p99,
        bad_responses=bad,
        successes=int(rps * 3),
        refused=0,
        socket_errors=0,
        non_2xx=0,
    )


def _store(store: str, rates: dict[str, float]) -> StoreResult:
    result = StoreResult(store=store, origin="test", settings={})
    for operation, rps in rates.items():
        result.operations.append(
            OperationResult(
                operation=operation,
                label=operation,
                measured=_wrk(rps, 2.0, 9.0),
                warmup=None,
                cpu={},
            )
        )
    return result


def test_summary_is_read_under_patrons_operation_names() -> None:
    run = peer.parse_summary(json.loads(SUMMARY))
    assert run.name == "vendure"
    assert run.version == "3.7.3"
    assert run.customers == 2000
    assert run.wrk == {"threads": 1, "connections": 16, "seconds": 3, "warmup_seconds": 1}
    assert set(run.operations) == {"list", "get", "email", "create"}
    # Patron's read by e-mail is set beside the same point read of Vendure's.
    assert run.operations["email"] == run.operations["get"]
    listed = run.operations["list"]
    assert (listed.rps, listed.p50_ms, listed.p99_ms) == (83.1, 190.2, 320.5)
    assert (listed.server_cpu_pct, listed.database_cpu_pct) == (72, 95)
    created = run.operations["create"]
    assert (created.bad_responses, created.socket_errors) == (2, 1)
    assert run.versions == {"node_version": "v20.20.2", "postgres_version": "15.18"}


def test_a_summary_without_any_operation_is_refused() -> None:
    with pytest.raises(ValueError, match="no operation"):
        peer.parse_summary({"peer": "vendure", "wrk": {}})


def test_ratio_is_patrons_rate_over_the_peers_per_store() -> None:
    run = peer.parse_summary(json.loads(SUMMARY))
    results = [
        _store(
            "sqlite", {"list": 831.0, "get": 2500.0, "email": 1500.0, "create": 43.0, "spend": 9.0}
        ),
        _store("postgresql", {"get": 1000.0}),
    ]
    rows = peer.compare(results, run)
    assert [(row.store, row.operation) for row in rows] == [
        ("sqlite", "list"),
        ("sqlite", "get"),
        ("sqlite", "email"),
        ("sqlite", "create"),
        ("postgresql", "get"),
    ]
    ratios = {(row.store, row.operation): row.ratio for row in rows}
    assert ratios[("sqlite", "list")] == pytest.approx(10.0)
    assert ratios[("sqlite", "get")] == pytest.approx(5.0)
    assert ratios[("sqlite", "email")] == pytest.approx(3.0)
    assert ratios[("sqlite", "create")] == pytest.approx(0.5)
    assert ratios[("postgresql", "get")] == pytest.approx(2.0)
    create = rows[3]
    assert (create.peer_p50_ms, create.peer_p99_ms, create.peer_bad) == (185.0, 310.0, 3)
    assert (create.patron_p50_ms, create.patron_p99_ms) == (2.0, 9.0)
    assert create.as_dict()["ratio"] == pytest.approx(0.5)


def test_no_ratio_when_the_peer_served_nothing() -> None:
    data = json.loads(SUMMARY)
    data["get_by_id"]["rps"] = 0
    rows = peer.compare([_store("sqlite", {"get": 100.0})], peer.parse_summary(data))
    assert rows[0].ratio is None
    assert rows[0].as_dict()["ratio"] is None


def test_settings_that_differ_from_patrons_are_named() -> None:
    run = peer.parse_summary(json.loads(SUMMARY))
    same = Options(seconds=3, warmup=1, connections=16, threads=1, contacts=2000)
    assert peer.setting_differences(run, peer.expected_wrk(same), same.contacts) == []
    other = Options(seconds=15, warmup=1, connections=16, threads=1, contacts=10_000)
    assert peer.setting_differences(run, peer.expected_wrk(other), other.contacts) == [
        "wrk seconds 3 (Patron 15)",
        "2,000 customers (Patron 10,000 contacts)",
    ]


def test_the_harness_gets_patrons_settings_and_a_fresh_database() -> None:
    env = peer.harness_env(contacts=300, seconds=2, warmup=1, connections=16, threads=1)
    assert {key: env[key] for key in ("SEED_COUNT", "BENCH_SECONDS", "WARMUP_SECONDS")} == {
        "SEED_COUNT": "300",
        "BENCH_SECONDS": "2",
        "WARMUP_SECONDS": "1",
    }
    assert (env["BENCH_CONNECTIONS"], env["BENCH_THREADS"], env["FRESH_DB"]) == ("16", "1", "1")
    assert env["VENDURE_PORT"] != env["PG_PORT"]


def test_a_missing_harness_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(peer.PeerUnavailable) as caught:
        peer.preflight("vendure", tmp_path / "nowhere")
    assert "--peer-dir" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_options_take_the_peer_and_its_directory(tmp_path: Path) -> None:
    options = parse(["--peer", "vendure", "--peer-dir", str(tmp_path)])
    assert (options.peer, options.peer_dir) == ("vendure", tmp_path)
    assert parse([]).peer is None
    with pytest.raises(SystemExit):
        parse(["--peer-dir", str(tmp_path)])
    assert peer.default_peer_dir("vendure").parts[-3:] == ("shared", "peers", "vendure")
