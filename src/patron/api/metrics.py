"""Request metrics: latency by surface and operation, answers by status and error code.

Label values are bounded. A surface is one of a few names read off the path; an operation
is a GraphQL operation name of the documented API (or one an operator lists in
``PATRON_METRICS_OPERATIONS``), a commerce method, ``anonymous`` for a document without a
name, and ``other`` for any other name; an error code is one Patron answers with. Recording a
request costs a histogram observation and a counter increment on label children made once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Histogram

from patron.core.metrics import LATENCY_BUCKETS

NO_OPERATION = "none"
ANONYMOUS = "anonymous"
OTHER = "other"
# The operation names of the documents Patron implements (its own API and the dialects').
DOCUMENTED_OPERATIONS = frozenset(
    {
        "AddCreditEntry",
        "ConvertCredit",
        "CreateContact",
        "CustomerQuery",
        "CustomersQuery",
        "DeleteContact",
        "GetAllCreditEntries",
        "GetContactByEmail",
        "GetContactCreditEntries",
        "GetContacts",
        "GetCreditBalances",
        "SignUp",
        "mutationName",
        "updateCustomerMutation",
    }
)
_MAX_REMEMBERED_DOCUMENTS = 4096
_NAMED = re.compile(r"\s*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")

DURATION = Histogram(
    "patron_request_duration_seconds",
    "Requests and their latency, by surface and GraphQL operation (or commerce method).",
    ["surface", "operation"],
    buckets=LATENCY_BUCKETS,
)
RESPONSES = Counter(
    "patron_responses",
    "Answers by surface, HTTP status and error code (none: no error).",
    ["surface", "status", "code"],
)


def surface_of(path: str) -> str:
    if path.startswith("/graphql"):
        return "native"
    if path.startswith("/compat/"):
        for surface in ("lightfunnels", "loyaltydish", "commerce"):
            if path.startswith(surface, 8):
                return surface
        return "other"
    if path in ("/healthz", "/readyz"):
        return "health"
    return "other"


class Operations:
    """The bounded operation label of a GraphQL request."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self.known = DOCUMENTED_OPERATIONS | {name.strip() for name in extra if name.strip()}
        self._by_document: dict[str, str] = {}

    def label(self, query: str, operation_name: str | None) -> str:
        if operation_name is not None:
            return operation_name if operation_name in self.known else OTHER
        found = self._by_document.get(query)
        if found is None:
            named = _NAMED.match(query)
            name = named[1] if named is not None else None
            found = ANONYMOUS if name is None else (name if name in self.known else OTHER)
            if len(self._by_document) < _MAX_REMEMBERED_DOCUMENTS:
                self._by_document[query] = found
        return found


class Requests:
    """Label children made once per combination, so that a request allocates no labels."""

    def __init__(self) -> None:
        self._durations: dict[tuple[str, str], Any] = {}
        self._responses: dict[tuple[str, int, str | None], Any] = {}

    def record(
        self, surface: str, operation: str, status: int, code: str | None, seconds: float
    ) -> None:
        duration = self._durations.get((surface, operation))
        if duration is None:
            duration = self._durations[(surface, operation)] = DURATION.labels(surface, operation)
        duration.observe(seconds)
        answers = self._responses.get((surface, status, code))
        if answers is None:
            shown = code or ("none" if status < 400 else f"HTTP_{status}")
            answers = RESPONSES.labels(surface, str(status), shown)
            self._responses[(surface, status, code)] = answers
        answers.inc()
