"""The report page's chart: server-rendered SVG, no script and no external assets.

``svg#report-chart`` holds one ``rect.bar`` (bar chart) or ``circle.point`` (line chart) per
row, each with ``data-x`` (the x group value as text) and ``data-y`` (the y value as text,
empty when the aggregate had no values); every label is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from ._output import text

WIDTH = 800
HEIGHT = 360
LEFT = 70
RIGHT = 20
TOP = 40
BOTTOM = 70


def _n(value: float) -> str:
    return f"{value:.1f}"


def _nice_step(span: float) -> float:
    raw = span / 5 or 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def _ticks(low: float, high: float) -> list[float]:
    step = _nice_step(high - low)
    start = math.floor(low / step) * step
    ticks: list[float] = []
    value = start
    while value <= high + step * 1e-9 and len(ticks) < 12:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal | int | float):
        return float(value)
    return None


def render_chart(
    rows: Sequence[dict[str, Any]], *, kind: str, x: str | None, y: str, title: str
) -> SafeString:
    """The SVG of ``rows`` as a bar or line chart of ``y`` against ``x``."""
    labels = [text(row.get(x)) if x else "all" for row in rows]
    values = [_number(row.get(y)) for row in rows]
    present = [v for v in values if v is not None]
    low = min([0.0, *present])
    high = max([0.0, *present])
    if high == low:
        high = low + 1
    ticks = _ticks(low, high)
    low, high = min(low, ticks[0]), max(high, ticks[-1])
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def y_at(value: float) -> float:
        return TOP + plot_h * (high - value) / (high - low)

    slot = plot_w / max(len(rows), 1)
    parts: list[str] = [
        format_html(
            '<svg id="report-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" '
            'role="img" aria-labelledby="report-chart-title" class="chart chart-{}">',
            WIDTH,
            HEIGHT,
            kind,
        ),
        format_html('<title id="report-chart-title">{}</title>', title),
        format_html(
            '<text class="chart-title" x="{}" y="22" text-anchor="middle" font-size="16">{}</text>',
            _n(WIDTH / 2),
            title,
        ),
    ]
    for tick in ticks:
        ty = y_at(tick)
        parts.append(
            format_html(
                '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}" stroke="#ddd"/>'
                '<text class="tick" x="{}" y="{}" text-anchor="end" font-size="11">{}</text>',
                LEFT,
                WIDTH - RIGHT,
                _n(ty),
                _n(ty),
                LEFT - 6,
                _n(ty + 4),
                text(Decimal(repr(tick)).normalize()) if tick else "0",
            )
        )
    zero = y_at(0.0)
    parts.append(
        format_html(
            '<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}" stroke="#333"/>',
            LEFT,
            WIDTH - RIGHT,
            _n(zero),
            _n(zero),
        )
    )
    if kind == "line":
        points = [
            f"{LEFT + slot * (i + 0.5):.1f},{y_at(v):.1f}"
            for i, v in enumerate(values)
            if v is not None
        ]
        parts.append(
            format_html(
                '<polyline class="line" fill="none" stroke="#2c6fbb" stroke-width="2" '
                'points="{}"/>',
                " ".join(points),
            )
        )
    for index, (label, value, row) in enumerate(zip(labels, values, rows, strict=True)):
        centre = LEFT + slot * (index + 0.5)
        data_y = text(row.get(y))
        tip = f"{label}: {data_y or 'no value'}"
        if kind == "line":
            if value is None:
                continue
            cy = y_at(value)
            parts.append(
                format_html(
                    '<circle class="point" cx="{}" cy="{}" r="4" fill="#2c6fbb" '
                    'data-x="{}" data-y="{}"><title>{}</title></circle>',
                    _n(centre),
                    _n(cy),
                    label,
                    data_y,
                    tip,
                )
            )
        else:
            top = y_at(max(value or 0.0, 0.0))
            height = abs(y_at(value or 0.0) - zero)
            parts.append(
                format_html(
                    '<rect class="bar" x="{}" y="{}" width="{}" height="{}" '
                    'fill="#2c6fbb" data-x="{}" data-y="{}"><title>{}</title></rect>',
                    _n(centre - slot * 0.4),
                    _n(top),
                    _n(slot * 0.8),
                    _n(height),
                    label,
                    data_y,
                    tip,
                )
            )
        if len(rows) <= 40:
            parts.append(
                format_html(
                    '<text class="x-label" x="{}" y="{}" text-anchor="end" font-size="11" '
                    'transform="rotate(-35 {} {})">{}</text>',
                    _n(centre),
                    HEIGHT - BOTTOM + 16,
                    _n(centre),
                    HEIGHT - BOTTOM + 16,
                    label[:24],
                )
            )
    parts.append(
        format_html(
            '<text class="axis-label x-axis-label" x="{}" y="{}" text-anchor="middle" '
            'font-size="12">{}</text>',
            _n(LEFT + plot_w / 2),
            HEIGHT - 6,
            x or "",
        )
    )
    parts.append(
        format_html(
            '<text class="axis-label y-axis-label" x="14" y="{}" text-anchor="middle" '
            'font-size="12" transform="rotate(-90 14 {})">{}</text>',
            _n(TOP + plot_h / 2),
            _n(TOP + plot_h / 2),
            y,
        )
    )
    parts.append("</svg>")
    return mark_safe("".join(str(p) for p in parts))  # noqa: S308 - every part is format_html
