"""Timestamps as Lightfunnels shows them: relative ("an hour ago") unless a format is asked for."""

from __future__ import annotations

import re
from datetime import datetime

from patron.core.errors import InvalidInput

RELATIVE = "relative"
_MAX_FORMAT = 100
_TOKENS = re.compile(r"\[([^\]]*)\]|YYYY|YY|MMMM|MMM|MM|M|DD|D|HH|H|hh|h|mm|m|ss|s|SSS|A|a|Z|X|x")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


_MINUTE, _HOUR, _DAY = 60, 3600, 86400
# moment.js's ``fromNow`` thresholds: below each bound, a fixed wording or a rounded count.
_SPANS: tuple[tuple[float, str | tuple[float, str]], ...] = (
    (45, "a few seconds"),
    (90, "a minute"),
    (45 * _MINUTE, (_MINUTE, "minutes")),
    (90 * _MINUTE, "an hour"),
    (22 * _HOUR, (_HOUR, "hours")),
    (36 * _HOUR, "a day"),
    (26 * _DAY, (_DAY, "days")),
    (45 * _DAY, "a month"),
    (320 * _DAY, (30.4375 * _DAY, "months")),
    (548 * _DAY, "a year"),
    (float("inf"), (365.25 * _DAY, "years")),
)


def _span(seconds: float) -> str:
    for bound, wording in _SPANS:
        if seconds < bound:
            if isinstance(wording, str):
                return wording
            unit, name = wording
            return f"{max(2, round(seconds / unit))} {name}"
    raise AssertionError("unreachable")  # pragma: no cover


def relative(moment: datetime, now: datetime) -> str:
    seconds = (now - moment).total_seconds()
    if seconds >= 0:
        return f"{_span(seconds)} ago"
    return f"in {_span(-seconds)}"


def _token(match: re.Match[str], moment: datetime) -> str:
    if match.group(1) is not None:
        return match.group(1)
    hour12 = moment.hour % 12 or 12
    values = {
        "YYYY": f"{moment.year:04d}",
        "YY": f"{moment.year % 100:02d}",
        "MMMM": _MONTHS[moment.month - 1],
        "MMM": _MONTHS[moment.month - 1][:3],
        "MM": f"{moment.month:02d}",
        "M": str(moment.month),
        "DD": f"{moment.day:02d}",
        "D": str(moment.day),
        "HH": f"{moment.hour:02d}",
        "H": str(moment.hour),
        "hh": f"{hour12:02d}",
        "h": str(hour12),
        "mm": f"{moment.minute:02d}",
        "m": str(moment.minute),
        "ss": f"{moment.second:02d}",
        "s": str(moment.second),
        "SSS": f"{moment.microsecond // 1000:03d}",
        "A": "AM" if moment.hour < 12 else "PM",
        "a": "am" if moment.hour < 12 else "pm",
        "Z": "+00:00",
        "X": str(int(moment.timestamp())),
        "x": str(int(moment.timestamp() * 1000)),
    }
    return values[match.group(0)]


def formatted(moment: datetime, now: datetime, pattern: str | None) -> str:
    """``relative`` (the default), ``iso``, or a moment.js pattern such as ``YYYY-MM-DD HH:mm``.

    ``moment`` and ``now`` are UTC; patterns are written in UTC.
    """
    if pattern is None or pattern == RELATIVE:
        return relative(moment, now)
    if pattern == "iso":
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    if not 1 <= len(pattern) <= _MAX_FORMAT:
        raise InvalidInput(f"format must be 1 to {_MAX_FORMAT} characters", field="format")
    return _TOKENS.sub(lambda match: _token(match, moment), pattern)
