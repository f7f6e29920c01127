"""The tables printed at the end and the JSON kept in bench/results/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.bound import BoundResult
from bench.moving import GOAL_EXPORT, GOAL_IMPORT, MEMORY_LIMIT_MB
from bench.outbox import GOAL_COST_PCT, GOAL_EVENTS_PER_SECOND, CostResult, OutboxResult
from bench.run import OperationResult, StoreResult
from bench.sweep import GOAL_LOTS, GOAL_SECONDS, SweepResult

# From the issues: requests per second per store, p99 for all, and the bound ratio.
GOALS: dict[str, dict[str, float]] = {
    "list": {"sqlite": 800, "postgresql": 800},
    "get": {"sqlite": 2_500, "postgresql": 2_500},
    "email": {"sqlite": 2_500, "postgresql": 2_500},
    "create": {"postgresql": 1_500},  # and 10x Vendure's createCustomer in the same run
    # The writes' issue: SPEND above the one-transaction bound, twice it on one hot wallet.
    "spend": {"sqlite": 2_000, "postgresql": 2_000},
    "hot": {"sqlite": 2_000, "postgresql": 2_000},
    # Redemption codes, orders and expiry; the Commerce, Lightfunnels and LoyaltyDish dialects.
    "redeem": {"postgresql": 1_000},
    "order": {"sqlite": 1_000, "postgresql": 1_000},
    "commerce": {"postgresql": 800},
    "lightfunnels": {"postgresql": 800},
    "loyaltydish": {"postgresql": 800},
}
P99_GOAL_MS = 25.0
# The p99 goal (at 80 % of the rate): the foundation issue's writes and every read surface.
P99_OPERATIONS = (
    "list",
    "get",
    "email",
    "create",
    "spend",
    "hot",
    "redeem",
    "order",
    "commerce",
    "lightfunnels",
    "loyaltydish",
)
BOUND_GOAL_PCT = 70.0
# Vendure 3.7.3 on this kind of machine (shared/peers/vendure/REPORT.md, typical values).
VENDURE: dict[str, float] = {"list": 83, "get": 500, "email": 500, "create": 86}


def goal_of(operation: str, store: str) -> float | None:
    return GOALS.get(operation, {}).get(store)


def p99_for_goal(item: OperationResult) -> float:
    """The goal's p99 is at 80 % of the rate: the paced run's, when there was one."""
    return (item.paced or item.measured).p99_ms


def verdict(item: OperationResult, store: str) -> str:
    goal = goal_of(item.operation, store)
    misses = []
    if item.measured.responses == 0:
        misses.append("no responses")
    if goal is not None and item.measured.rps < goal:
        misses.append("rate")
    if item.operation in P99_OPERATIONS and p99_for_goal(item) > P99_GOAL_MS:
        misses.append("p99")
    if item.measured.bad_responses:
        misses.append("bad")
    if item.measured.socket_errors:
        misses.append("socket errors")
    return "met" if not misses else "missed: " + ", ".join(misses)


def sweep_verdict(sweep: SweepResult, store: str) -> str:
    """The goal is for PostgreSQL; on SQLite the projection is shown without a verdict."""
    if not sweep.check.get("ok"):
        return "missed: check failed"
    if store != "postgresql":
        return "-"
    how = " (extrapolated)" if sweep.extrapolated else ""
    if sweep.projected_seconds <= GOAL_SECONDS:
        return "met" + how
    return "missed: time" + how


def outbox_verdict(outbox: OutboxResult, store: str) -> str:
    """The goal is for PostgreSQL (one worker); on SQLite the rate is shown without one."""
    if not outbox.check.get("ok"):
        return "missed: check failed"
    if store != "postgresql":
        return "-"
    return "met" if outbox.rate >= GOAL_EVENTS_PER_SECOND else "missed: rate"


def cost_verdict(cost: CostResult) -> str:
    if not cost.check.get("ok"):
        return "missed: check failed"
    return "met" if cost.cost_pct <= GOAL_COST_PCT else "missed: cost"


def bound_ratio(result: StoreResult, bound: str) -> float | None:
    """Patron's rate as a percentage of a bound ("spend", "hot", "spend-cte", "hot-cte",
    "get-sql", "list-sql")."""
    item = result.operation(bound.split("-", maxsplit=1)[0])
    limit = result.bounds.get(bound)
    if item is None or limit is None or limit.rate <= 0:
        return None
    return 100.0 * item.measured.rps / limit.rate


def _is_serving(name: str) -> bool:
    """A serving model's floor (``--serving-models``): the read's SQL, no Patron code."""
    return name.endswith(("-uvicorn", "-granian"))


def _is_floor(name: str) -> bool:
    return name.endswith(("-http", "-graphql")) or _is_serving(name)


def _bound_label(name: str, limit: BoundResult) -> str:
    if _is_serving(name):
        return f"serving {limit.target}: {limit.statements} ({limit.connections} conn)"
    if _is_floor(name):
        return f"floor {limit.target}: {limit.statements} ({limit.connections} conn)"
    if name.endswith("-sql"):
        return f"bound {limit.target}: bare SQL, {limit.statements} ({limit.connections} conn)"
    return f"bound {limit.statements}, {limit.target.split()[-2]} ({limit.connections} conn)"


def _cpu(cpu: dict[str, Any]) -> str:
    def show(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    return (
        f"{show(cpu.get('server_pct'))}/{show(cpu.get('database_pct'))}/"
        f"{show(cpu.get('load_generator_pct'))}/{show(cpu.get('others_pct'))}"
    )


def cpu_ms_per_request(cpu: dict[str, Any], rate: float, *, bound: bool = False) -> str:
    """CPU milliseconds per request, (server or the bound's loop) + database backends: less
    sensitive to a busy machine than the rate, and what an optimisation moves first."""
    if rate <= 0:
        return "-"
    first = cpu.get("load_generator_pct") if bound else cpu.get("server_pct")
    text = "-" if first is None else f"{first * 10 / rate:.2f}"
    database = cpu.get("database_pct")
    return text if database is None else f"{text}+{database * 10 / rate:.2f}"


def _number(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:,.0f}{unit}"


def store_table(result: StoreResult) -> Table:
    table = Table(
        title=f"{result.store}: {result.origin}",
        title_justify="left",
        caption="bound: the same guarded UPDATE + entry INSERT from a plain driver loop; for "
        "a read, the statements its plan sends, replayed the same way. "
        "CPU ms/req: server (or the bound's loop) + database backends, per request. "
        "CPU %: of one core over the measured window: server / database backends / "
        "wrk or the bound's loop / everything else on the machine",
        caption_justify="left",
    )
    for name, justify in (
        ("operation", "left"),
        ("req/s", "right"),
        ("p50 ms", "right"),
        ("p99 ms", "right"),
        ("paced: /s, p99 ms", "right"),
        ("bad", "right"),
        ("goal /s", "right"),
        ("verdict", "left"),
        ("Vendure /s", "right"),
        ("CPU ms/req", "right"),
        ("CPU % srv/db/gen/other", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for item in result.operations:
        run = item.measured
        table.add_row(
            item.label,
            f"{run.rps:,.1f}",
            f"{run.p50_ms:.2f}",
            f"{run.p99_ms:.2f}",
            f"{item.paced.rps:,.0f}, {item.paced.p99_ms:.2f}" if item.paced else "-",
            str(run.bad_responses + run.socket_errors),
            _number(goal_of(item.operation, result.store)),
            verdict(item, result.store),
            _number(VENDURE.get(item.operation)),
            cpu_ms_per_request(item.cpu, run.rps),
            _cpu(item.cpu),
        )
    if result.sweep is not None:
        sweep = result.sweep
        table.add_row(
            f"expiry sweep, {sweep.lots:,} lots (lots/s; s per 1M)",
            f"{sweep.rate:,.1f}",
            "-",
            "-",
            "-",
            "0" if sweep.check.get("ok") else "check",
            f"<= {GOAL_SECONDS:.0f} s/1M" if result.store == "postgresql" else "-",
            f"{sweep.projected_seconds:,.0f} s/1M: {sweep_verdict(sweep, result.store)}",
            "-",
            cpu_ms_per_request(sweep.cpu, sweep.rate, bound=True),
            _cpu(sweep.cpu),
        )
    _outbox_rows(table, result)
    _moving_rows(table, result)
    for name, limit in result.bounds.items():
        ratio = bound_ratio(result, name)
        table.add_row(
            _bound_label(name, limit),
            f"{limit.rate:,.1f}",
            f"{limit.p50_ms:.2f}",
            f"{limit.p99_ms:.2f}",
            "-",
            str(limit.errors),
            f"Patron >= {BOUND_GOAL_PCT:.0f}%" if name == "spend" else "-",
            "-" if ratio is None else f"Patron {ratio:.0f}% of it",
            "-",
            cpu_ms_per_request(limit.cpu, limit.rate, bound=not _is_floor(name)),
            _cpu(limit.cpu),
        )
    return table


def _per_contact(own: float | None, database: float | None) -> str:
    """CPU a contact: the import's process + the database's, or the database's alone."""
    parts = [f"{value:,.0f}" for value in (own, database) if value is not None]
    return "+".join(parts) if parts else "-"


def _moving_rows(table: Table, result: StoreResult) -> None:
    moving = result.moving
    if moving is None:
        return
    ok = "0" if moving.check.get("ok") else "check"
    table.add_row(
        f"import {moving.rows:,} contacts, both balances (rows/s; peak MB)",
        f"{moving.import_rate:,.1f}",
        "-",
        "-",
        ok,
        f">= {GOAL_IMPORT:,}",
        f"peak {moving.import_peak_mb:,.0f} MB (<= {MEMORY_LIMIT_MB})",
        "-",
        "-",
        "-",
    )
    if moving.floor_rate:
        table.add_row(
            "  the database alone, the same rows (contacts/s; CPU µs a contact)",
            f"{moving.floor_rate:,.1f}",
            "-",
            "-",
            "-",
            "-",
            "-",
            f"import at {moving.import_rate / moving.floor_rate:.0%} of it",
            "-",
            "import "
            + _per_contact(moving.import_cpu_us, moving.database_cpu_us)
            + ", alone "
            + _per_contact(None, moving.floor_database_cpu_us),
            "-",
        )
    if moving.parallel_floor_rate:
        table.add_row(
            "  the same rows by COPY on two connections at once (contacts/s; CPU µs a contact)",
            f"{moving.parallel_floor_rate:,.1f}",
            "-",
            "-",
            "-",
            "-",
            "-",
            f"import at {moving.import_rate / moving.parallel_floor_rate:.0%} of it",
            "-",
            "alone " + _per_contact(None, moving.parallel_floor_database_cpu_us),
            "-",
        )
    if moving.batched_rate:
        table.add_row(
            "  the same rows by INSERT ... SELECT, 1,000 contacts a transaction (contacts/s)",
            f"{moving.batched_rate:,.1f}",
            "-",
            "-",
            "-",
            "-",
            "-",
            f"import at {moving.import_rate / moving.batched_rate:.0%} of it",
            "-",
            "-",
            "-",
        )
    if moving.statements_rate:
        table.add_row(
            "  the same rows as INSERT statements, alone (contacts/s)",
            f"{moving.statements_rate:,.1f}",
            "-",
            "-",
            "-",
            "-",
            "-",
            f"import at {moving.import_rate / moving.statements_rate:.0%} of it",
            "-",
            "-",
            "-",
        )
    for what, rate in moving.export_rates.items():
        table.add_row(
            f"export {what} (rows/s)",
            f"{rate:,.1f}",
            "-",
            "-",
            ok,
            f">= {GOAL_EXPORT:,}",
            "-",
            "-",
            "-",
            "-",
        )


def _outbox_rows(table: Table, result: StoreResult) -> None:
    outbox = result.outbox
    if outbox is not None:
        goal = GOAL_EVENTS_PER_SECOND if result.store == "postgresql" else None
        table.add_row(
            f"outbox, {outbox.events:,} webhooks, 1 worker (events/s)",
            f"{outbox.rate:,.1f}",
            "-",
            "-",
            "-",
            "0" if outbox.check.get("ok") else "check",
            _number(goal),
            outbox_verdict(outbox, result.store)
            + ("" if goal is None else f" ({100 * outbox.rate / goal:.0f}%)"),
            "-",
            cpu_ms_per_request(outbox.cpu, outbox.rate, bound=True),
            _cpu(outbox.cpu),
        )
    for cost in result.outbox_cost:
        table.add_row(
            f"{cost.command} with the outbox ({cost.threads} thr; "
            f"{cost.without_outbox:,.0f}/s without)",
            f"{cost.with_outbox:,.1f}",
            "-",
            "-",
            "-",
            "0" if cost.check.get("ok") else "check",
            f"<= {GOAL_COST_PCT:.0f}%",
            f"{cost.cost_pct:+.1f}%: {cost_verdict(cost)}",
            "-",
            "-" if cost.cpu_ms_with is None else f"{cost.cpu_ms_with:.2f}",
            "-",
        )


def _outbox_checks(result: StoreResult) -> list[str]:
    lines = []
    outbox = result.outbox
    if outbox is not None:
        check = outbox.check
        lines.append(
            ("ok    " if check.get("ok") else "FAILED ")
            + f"outbox: {outbox.events:,} events (queued in {outbox.seed_seconds:,.1f} s) "
            f"delivered in {outbox.seconds:,.2f} s by one worker {outbox.batches_settings}: "
            f"statuses {check.get('statuses')}, {check.get('logged_delivered'):,} logged as "
            f"delivered, receiver saw {check.get('received_distinct_ids'):,} distinct ids in "
            f"{check.get('received_requests'):,} requests; CPU % receiver/db/worker/other "
            f"{_cpu(outbox.cpu)}, load average {outbox.cpu.get('load_average_1m')}"
        )
    for cost in result.outbox_cost:
        lines.append(
            ("ok    " if cost.check.get("ok") else "FAILED ")
            + f"outboxcost {cost.command}: {cost.with_outbox:,.0f}/s with the outbox insert, "
            f"{cost.without_outbox:,.0f}/s with it stubbed out, cost {cost.cost_pct:+.1f}% "
            f"(goal <= {GOAL_COST_PCT:.0f}%); CPU per write {cost.cpu_ms_with or 0:.2f} and "
            f"{cost.cpu_ms_without or 0:.2f} ms (bench process + database), "
            f"{cost.cpu_cost_pct or 0:+.1f}%; {cost.check.get('outbox_rows_with'):,} and "
            f"{cost.check.get('outbox_rows_without'):,} outbox rows written"
        )
    return lines


def _checks(result: StoreResult) -> list[str]:
    lines = []
    for item in result.operations:
        if item.check is None:
            continue
        check = item.check
        line = (
            f"{item.operation}: {check['acknowledged']:,} acknowledged, {check['stored']:,} stored "
            f"({check['in_flight_at_stop']} in flight when wrk stopped, at most "
            f"{check['in_flight_allowed']})"
        )
        if "earned_entries" in check:
            line += f"; {check['earned_entries']:,} ADD entries for orders (one per order)"
        if "balance_minor" in check:
            line += (
                f"; hot balance {check['balance_minor']:,} minor units = funding - entries: "
                f"{check['balance_matches_entries']}, lowest balance after "
                f"{check['lowest_balance_after_minor']:,}"
            )
        lines.append(("ok    " if check["ok"] else "FAILED ") + line)
    if result.drain is not None:
        drain = result.drain
        lines.append(
            ("ok    " if drain["ok"] else "FAILED ")
            + f"drain: wallet of {drain['funded_spends']} spends, {drain['successes']} succeeded, "
            f"{drain['entries']} entries, {drain['refused_insufficient']} refused, final balance "
            f"{drain['balance_minor']}, lowest {drain['lowest_balance_after_minor']}"
        )
    if result.sweep is not None:
        sweep = result.sweep
        lines.append(
            ("ok    " if sweep.check.get("ok") else "FAILED ")
            + f"sweep: {sweep.lots_expired:,} of {sweep.lots:,} lots on {sweep.wallets:,} wallets "
            f"expired in {sweep.seconds:,.1f} s (written in {sweep.load_seconds:,.1f} s), "
            f"{sweep.check.get('due_lots_left')} due lots left, "
            f"{sweep.check.get('wallets_not_restored')} wallets not back to their balance, "
            f"{sweep.wallets_skipped} wallets skipped as busy; {GOAL_LOTS:,} lots would take "
            f"{sweep.projected_seconds:,.0f} s"
            + (" (extrapolated from this rate)" if sweep.extrapolated else "")
        )
    lines.extend(_outbox_checks(result))
    if result.ledger is not None:
        ledger = result.ledger
        lines.append(
            ("ok    " if ledger["ok"] else "FAILED ")
            + f"patron ledger verify: {ledger['wallets']:,} wallets, {ledger['entries']:,} entries"
        )
    for name, limit in result.bounds.items():
        ratio = bound_ratio(result, name)
        if ratio is not None:
            goal = f" (goal >= {BOUND_GOAL_PCT:.0f}%)" if name == "spend" else ""
            if _is_serving(name):
                lines.append(
                    f"serving {limit.target}: Patron at {ratio:.0f}% of its own SQL served by "
                    f"{limit.statements} (no Patron code)"
                )
                continue
            if _is_floor(name):
                lines.append(
                    f"floor  {limit.target}: Patron at {ratio:.0f}% of "
                    f"{limit.statements} (no store)"
                )
                continue
            what = limit.target if name.endswith("-sql") else f"SPEND on {limit.target}"
            lines.append(
                f"bound  {what}: Patron at {ratio:.0f}% of the bare database "
                f"({limit.statements}, {limit.connections} connection(s)){goal}"
            )
    return lines


def _profile_lines(item: OperationResult) -> list[str]:
    profile = item.profile
    if not profile or not profile.get("busy_samples"):
        return []
    busy, waiting = profile["busy_samples"], profile["waiting_samples"]
    lines = [
        f"profile {item.operation}: {busy:,} busy samples of the workers "
        f"({waiting:,} more were threads waiting); share of busy samples:"
    ]
    lines.append(
        "  stages:    "
        + ", ".join(f"{name} {share:.0f}%" for name, share in profile["stages"] if share >= 0.5)
    )
    lines.append(
        "  packages:  " + ", ".join(f"{name} {share:.0f}%" for name, share in profile["packages"])
    )
    lines.append(
        "  functions: "
        + ", ".join(f"{name} {share:.0f}%" for name, share in profile["functions"][:6])
    )
    return lines


def print_report(console: Console, results: list[StoreResult]) -> None:
    for result in results:
        console.print()
        console.print(store_table(result))
        lines = _checks(result)
        for item in result.operations:
            lines.extend(_profile_lines(item))
        lines.extend(
            f"console {page.page}: median {page.median_ms:.1f} ms, p95 {page.p95_ms:.1f} ms "
            f"({'within' if page.ok else 'ABOVE'} the 50 ms goal)"
            for page in result.console
        )
        for line in lines:
            console.print("  " + line, highlight=False, markup=False, soft_wrap=True)
        for problem in result.problems:
            console.print(
                f"  PROBLEM {problem}",
                style="bold red",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )


def _bound_dict(limit: BoundResult) -> dict[str, Any]:
    return dict(vars(limit))


def write_json(path: Path, header: dict[str, Any], results: list[StoreResult]) -> None:
    stores: dict[str, Any] = {}
    for result in results:
        data = result.as_dict()
        data["goals"] = {
            item.operation: {
                "rps_goal": goal_of(item.operation, result.store),
                "p99_goal_ms": P99_GOAL_MS,
                "verdict": verdict(item, result.store),
                "vendure_rps": VENDURE.get(item.operation),
            }
            for item in result.operations
        }
        if result.sweep is not None:
            data["goals"]["sweep"] = {
                "seconds_goal_per_million_lots": GOAL_SECONDS,
                "projected_seconds_per_million_lots": result.sweep.projected_seconds,
                "extrapolated": result.sweep.extrapolated,
                "verdict": sweep_verdict(result.sweep, result.store),
            }
        if result.outbox is not None:
            data["goals"]["outbox"] = {
                "events_per_second_goal": GOAL_EVENTS_PER_SECOND,
                "events_per_second": result.outbox.rate,
                "verdict": outbox_verdict(result.outbox, result.store),
            }
        for cost in result.outbox_cost:
            data["goals"][f"outboxcost {cost.command}"] = {
                "cost_pct_goal": GOAL_COST_PCT,
                "cost_pct": cost.cost_pct,
                "verdict": cost_verdict(cost),
            }
        for page in result.console:
            data["goals"][f"console {page.page}"] = {
                "median_ms_goal": 50.0,
                "median_ms": page.median_ms,
                "verdict": "met" if page.ok else "missed",
            }
        data["bound_ratio_pct"] = {name: bound_ratio(result, name) for name in result.bounds}
        data["bounds"] = {name: _bound_dict(limit) for name, limit in result.bounds.items()}
        stores[result.store] = data
    path.write_text(json.dumps({**header, "stores": stores}, indent=2, default=str) + "\n")
