"""Charts drawn on the server as SVG: a line over days and grouped bars over days.

No script draws them, so they show without JavaScript and print as they look. Every chart
is an image with a title and a description for screen readers, and the page shows its
numbers in a table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 600
HEIGHT = 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 12, 12, 28
# Colours told apart by people with the common colour-vision deficiencies (Okabe-Ito).
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float]


def _scale(top: float) -> float:
    return top if top > 0 else 1.0


def _frame(title: str, description: str, key: str, body: str, labels: Sequence[str]) -> Markup:
    plot_width = WIDTH - _LEFT - _RIGHT
    ticks = []
    if labels:
        step = max(1, len(labels) // 6)
        for index in range(0, len(labels), step):
            x = _LEFT + plot_width * (index + 0.5) / len(labels)
            ticks.append(
                f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle" '
                f'class="tick">{escape(labels[index][5:])}</text>'
            )
    svg = (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart" '
        f'aria-labelledby="{key}-title {key}-desc" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{key}-title">{escape(title)}</title>'
        f'<desc id="{key}-desc">{escape(description)}</desc>'
        f'<line x1="{_LEFT}" y1="{HEIGHT - _BOTTOM}" x2="{WIDTH - _RIGHT}" '
        f'y2="{HEIGHT - _BOTTOM}" class="axis"/>'
        f"{body}{''.join(ticks)}</svg>"
    )
    return Markup(svg)  # noqa: S704 - every text in it is escaped above


def _top_label(top: float, unit: str) -> str:
    return (
        f'<text x="{_LEFT - 6}" y="{_TOP + 10}" text-anchor="end" class="tick">'
        f"{escape(f'{top:,.0f}')}{escape(unit)}</text>"
        f'<text x="{_LEFT - 6}" y="{HEIGHT - _BOTTOM}" text-anchor="end" class="tick">0</text>'
    )


def line_chart(
    key: str, title: str, description: str, labels: Sequence[str], series: Sequence[Series]
) -> Markup:
    top = _scale(max((max(s.values, default=0) for s in series), default=0))
    plot_width = WIDTH - _LEFT - _RIGHT
    plot_height = HEIGHT - _TOP - _BOTTOM
    body = [_top_label(top, "")]
    for number, line in enumerate(series):
        count = max(len(line.values), 1)
        points = " ".join(
            f"{_LEFT + plot_width * (index + 0.5) / count:.1f},"
            f"{_TOP + plot_height * (1 - value / top):.1f}"
            for index, value in enumerate(line.values)
        )
        colour = COLOURS[number % len(COLOURS)]
        body.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.5"/>'
        )
    return _frame(title, description, key, "".join(body), labels)


def bar_chart(
    key: str, title: str, description: str, labels: Sequence[str], series: Sequence[Series]
) -> Markup:
    top = _scale(max((max(s.values, default=0) for s in series), default=0))
    plot_width = WIDTH - _LEFT - _RIGHT
    plot_height = HEIGHT - _TOP - _BOTTOM
    slot = plot_width / max(len(labels), 1)
    bar = max(slot * 0.8 / max(len(series), 1), 1.0)
    body = [_top_label(top, "")]
    for number, group in enumerate(series):
        colour = COLOURS[number % len(COLOURS)]
        for index, value in enumerate(group.values):
            if value <= 0:
                continue
            height = plot_height * value / top
            x = _LEFT + slot * index + slot * 0.1 + bar * number
            y = _TOP + plot_height - height
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                f'fill="{colour}"/>'
            )
    return _frame(title, description, key, "".join(body), labels)


def legend(series: Sequence[Series]) -> Markup:
    items = "".join(
        f'<li><svg viewBox="0 0 10 10" class="swatch" aria-hidden="true">'
        f'<rect width="10" height="10" fill="{COLOURS[number % len(COLOURS)]}"/></svg>'
        f"{escape(line.name)}</li>"
        for number, line in enumerate(series)
    )
    return Markup(f'<ul class="legend">{items}</ul>')  # noqa: S704 - names escaped
