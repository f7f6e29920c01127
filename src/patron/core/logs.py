"""Log lines as text or as one JSON object each (``PATRON_LOG_FORMAT``; JSON in production).

A line's structured fields travel in ``extra={"fields": {...}}``: the JSON format writes them
as keys, the text format as ``key=value`` after the message (but those named in
``extra={"shown": (...)}``, which the message already says). Callers put in no token,
password, e-mail or other personal data: ids, counts, codes and durations only.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

FORMATS = ("json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _printable(value: object) -> str:
    text = str(value)
    return "".join(char if char.isprintable() and char != " " else "?" for char in text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the fields, the exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The usual text line, its fields appended as ``key=value`` (made printable, no spaces,
    so that no value can split or forge a line)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and fields:
            shown = getattr(record, "shown", ())
            pairs = " ".join(
                f"{key}={_printable(value)}" for key, value in fields.items() if key not in shown
            )
            head, newline, rest = text.partition("\n")
            text = f"{head} {pairs}{newline}{rest}"
        return text


def logging_config(log_format: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for Patron's loggers and uvicorn's, on standard error."""
    formatter = (
        {"()": "patron.core.logs.JsonFormatter"}
        if log_format == "json"
        else {"()": "patron.core.logs.TextFormatter"}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "patron",
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"patron": formatter},
        "handlers": {"patron": handler},
        "loggers": {
            "patron": {"handlers": ["patron"], "level": "INFO", "propagate": False},
            "uvicorn": {"handlers": ["patron"], "level": "WARNING", "propagate": False},
            "uvicorn.error": {"level": "WARNING"},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def configure(log_format: str) -> None:
    """Patron's loggers (and uvicorn's) write in ``log_format`` to standard error."""
    logging.config.dictConfig(logging_config(log_format))
