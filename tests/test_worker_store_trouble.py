"""`patron worker` waits out a store that fails mid-run with one log line, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from patron.cli import worker


class _Failing:
    def run_once(self) -> int:
        raise OperationalError("SELECT 1", {}, Exception("sorry, too many clients already"))


def test_an_unreachable_store_is_one_warning_line_and_the_worker_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dispatcher: Any = _Failing()
    with caplog.at_level(logging.WARNING):
        assert worker._deliver_once(dispatcher) == 0
    (record,) = [r for r in caplog.records if "outbox batch failed" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "too many clients" in record.getMessage()
    assert "\n" not in record.getMessage()


def test_a_failed_expiry_sweep_is_one_warning_line_and_the_worker_goes_on(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(db: Any) -> Any:
        raise OperationalError("UPDATE credit_lots", {}, Exception("the database is shutting down"))

    monkeypatch.setattr(worker, "sweep", failing)
    with caplog.at_level(logging.WARNING):
        assert worker._sweep_once(object()) is None  # type: ignore[arg-type]
    (record,) = [r for r in caplog.records if "expiry sweep failed" in r.getMessage()]
    assert record.exc_info is None
    assert "shutting down" in record.getMessage()
    assert "\n" not in record.getMessage()
