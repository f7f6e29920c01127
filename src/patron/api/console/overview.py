"""The overview: what the account owes in store credit and points, and how it moves."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from starlette.responses import Response

from patron.api.console import charts
from patron.api.console.web import Console, Visit, amount_text
from patron.core.clock import utcnow
from patron.core.money import from_minor
from patron.wallets import service as wallets
from patron.wallets.models import CreditType, LedgerOverview

DAYS = 30
FRESH_FOR = timedelta(seconds=60)
_KEPT_ACCOUNTS = 1_000
DONE = {"password": "Your password was changed."}


class Overview:
    def __init__(self, console: Console) -> None:
        self.console = console
        # Per account, the flows of days that are over (they no longer change): each view
        # reads only the entries of the days since.
        self._closed: dict[str, wallets.ClosedDays] = {}
        self._recent: dict[str, tuple[LedgerOverview, datetime]] = {}

    def _keep_closed_days(self, account_id: str, overview: LedgerOverview, open_from: str) -> None:
        if len(self._closed) >= _KEPT_ACCOUNTS:
            self._closed.clear()
        self._closed[account_id] = {
            label: {kind: overview.flows[kind][index] for kind in CreditType}
            for index, label in enumerate(overview.days)
            if label < open_from
        }

    def _overview(self, visit: Visit) -> tuple[LedgerOverview, datetime]:
        """The account's overview as computed in the last ``FRESH_FOR``, or now (always with
        ``?fresh=1``): the totals read every wallet of the account, so a busy console reads
        them once a minute per worker, and the page says as of when."""
        principal = visit.principal
        account_id = principal.account_id
        kept = self._recent.get(account_id)
        now = utcnow()
        if kept is not None and not visit.query("fresh") and now - kept[1] < FRESH_FOR:
            return kept
        with self.console.db.read() as connection:
            overview = wallets.ledger_overview(
                connection, principal, now, days=DAYS, closed=self._closed.get(account_id)
            )
        self._keep_closed_days(account_id, overview, wallets.closed_before(now))
        if len(self._recent) >= _KEPT_ACCOUNTS:
            self._recent.clear()
        self._recent[account_id] = (overview, now)
        return overview, now

    def page(self, visit: Visit) -> Response:
        principal = visit.principal
        overview, now = self._overview(visit)
        money = CreditType.GLOBAL
        points = CreditType.LOCAL

        def number(kind: CreditType, minor: int) -> float:
            precision = (
                principal.currency_precision if kind is money else principal.points_precision
            )
            return float(from_minor(minor, precision))  # drawing only; the tables are exact

        labels = overview.days
        liability = charts.Series(
            f"Store credit ({principal.currency})",
            [number(money, value) for value in overview.balances[money]],
        )
        kept_points = charts.Series(
            "Points", [number(points, value) for value in overview.balances[points]]
        )
        flows = overview.flows[money]
        flow_series = [
            charts.Series("Issued", [number(money, day.added) for day in flows]),
            charts.Series("Spent", [number(money, day.spent) for day in flows]),
            charts.Series("Expired", [number(money, day.expired) for day in flows]),
        ]
        expiring_days = [(now + timedelta(days=n)).strftime("%Y-%m-%d") for n in range(DAYS + 1)]
        expiring: dict[str, Any] = {kind: dict(overview.expiring[kind]) for kind in CreditType}
        expiring_series = [
            charts.Series(
                f"Store credit ({principal.currency})",
                [number(money, expiring[money].get(day, 0)) for day in expiring_days],
            )
        ]
        return self.console.render(
            visit,
            "overview.html",
            overview=overview,
            as_of=now,
            done=DONE.get(visit.query("done")),
            liability_chart=charts.line_chart(
                "liability",
                "Outstanding store credit, end of each day",
                f"Store credit owed to customers over the last {DAYS} days; the table beside "
                "lists each day's amount.",
                labels,
                [liability],
            ),
            points_chart=charts.line_chart(
                "points",
                "Points kept, end of each day",
                f"Loyalty points held by customers over the last {DAYS} days.",
                labels,
                [kept_points],
            ),
            flow_chart=charts.bar_chart(
                "flows",
                "Store credit issued, spent and expired per day",
                "Three bars per day: issued, spent and expired store credit.",
                labels,
                flow_series,
            ),
            flow_legend=charts.legend(flow_series),
            expiring_chart=charts.bar_chart(
                "expiring",
                f"Store credit expiring in the next {DAYS} days",
                "Store credit that expires on each of the coming days.",
                expiring_days,
                expiring_series,
            ),
            total_expiring={
                kind: sum(amount for _day, amount in overview.expiring[kind]) for kind in CreditType
            },
            rows=list(
                zip(
                    labels,
                    overview.balances[money],
                    overview.balances[points],
                    flows,
                    strict=True,
                )
            ),
            expiring_rows=overview.expiring[money],
            amount=lambda minor, kind: amount_text(principal, minor, kind),
        )
