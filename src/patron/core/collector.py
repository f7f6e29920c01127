"""The garbage collector's pace for a bulk job (an import, an export, a migration in)."""

from __future__ import annotations

import gc

# Container objects allocated and still alive since the last collection before the next
# one. CPython's default, 700, is passed every few rows of a bulk job: a batch's rows in
# flight (a thousand contacts, some 50,000 tuples, dicts and lists) are scanned again at
# every one of them, about 0.45 s of CPU in each of an import's two processes for 100,000
# contacts. At this figure a job whose batches come and go runs no collection at all, and
# cycles that something leaks are still collected every 50,000 objects.
BULK_THRESHOLD = 50_000


def settle_for_bulk_job() -> None:
    """Keep what start-up made (modules, tables, compiled statements: long-lived) out of the
    collector's scans (``gc.freeze``), and collect only when a bulk job's live objects have
    grown by ``BULK_THRESHOLD``."""
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(BULK_THRESHOLD, middle, oldest)
