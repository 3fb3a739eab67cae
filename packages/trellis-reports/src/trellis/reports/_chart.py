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


PALETTE = ("#2c6fbb", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#7f7f7f", "#000000")
"""Series colours (Okabe-Ito, told apart with colour-blindness too); cycled past eight."""
LEGEND_ROW = 18


def _order(value: Any) -> tuple[bool, int, Any]:
    """Sort key of x values: numbers by value, then text, missing values last."""
    if value is None:
        return (True, 0, "")
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return (False, 0, Decimal(str(value)))
    return (False, 1, text(value))


def _key(value: Any) -> str:
    """Identity of a group value in a chart: values that print alike (``null`` and ``""``,
    ``1`` and ``"1"``, ``true`` and ``"true"``) stay apart."""
    if value is None:
        return "z"
    if isinstance(value, bool):
        return f"b:{value}"
    if isinstance(value, int | float | Decimal):
        return f"n:{text(value)}"
    return f"s:{text(value)}"


def _shown(value: Any) -> str:
    """How a group value is labelled: its text; ``(none)`` when missing, ``""`` when empty."""
    if value is None:
        return "(none)"
    return text(value) or '""'


def render_chart(
    rows: Sequence[dict[str, Any]],
    *,
    kind: str,
    x: str | None,
    y: str,
    title: str,
    series: str | None = None,
) -> SafeString:
    """The SVG of ``rows`` as a bar or line chart of ``y`` against ``x``.

    Without ``series`` each row has its own slot, in row order. With ``series`` (a group
    column) the slots are the distinct ``x`` values in order, and each series value gets its
    colour: a line through its points, or one bar per slot, side by side, with a legend.
    """
    labels = [text(row.get(x)) if x else "all" for row in rows]
    names = [text(row.get(series)) for row in rows] if series else [""] * len(rows)
    # Series and x slots are told apart by value, not by their text (see _key).
    keys = [_key(row.get(series)) for row in rows] if series else [""] * len(rows)
    values = [_number(row.get(y)) for row in rows]
    if series:
        firsts: dict[str, Any] = {}
        for row in rows:
            firsts.setdefault(_key(row.get(x)) if x else "", row.get(x) if x else None)
        ordered = sorted(firsts, key=lambda key: _order(firsts[key]))
        categories = [_shown(firsts[key]) if x else "all" for key in ordered]
        slot_of = {key: index for index, key in enumerate(ordered)}
        slots = [slot_of[_key(row.get(x)) if x else ""] for row in rows]
    else:
        categories = [_shown(row.get(x)) if x else "all" for row in rows]
        slots = list(range(len(rows)))
    series_keys = list(dict.fromkeys(keys))
    colour = {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(series_keys)}
    rank = {key: i for i, key in enumerate(series_keys)}
    series_names = [""] * len(series_keys)
    series_labels = [""] * len(series_keys)
    for key, name, row in zip(keys, names, rows, strict=True):
        series_names[rank[key]] = name
        series_labels[rank[key]] = _shown(row.get(series)) if series else ""
    present = [v for v in values if v is not None]
    low = min([0.0, *present])
    high = max([0.0, *present])
    if high == low:
        high = low + 1
    ticks = _ticks(low, high)
    low, high = min(low, ticks[0]), max(high, ticks[-1])
    top = TOP + (LEGEND_ROW if series else 0)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - top - BOTTOM

    def y_at(value: float) -> float:
        return top + plot_h * (high - value) / (high - low)

    slot = plot_w / max(len(categories), 1)
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
    if series:
        parts.append(_legend(series_names, series_labels, [colour[k] for k in series_keys]))
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
        for key, name in zip(series_keys, series_names, strict=True):
            points = sorted(
                (slots[i], v) for i, v in enumerate(values) if v is not None and keys[i] == key
            )
            parts.append(
                format_html(
                    '<polyline class="line" fill="none" stroke="{}" stroke-width="2" '
                    'data-series="{}" points="{}"/>',
                    colour[key],
                    name,
                    " ".join(f"{LEFT + slot * (i + 0.5):.1f},{y_at(v):.1f}" for i, v in points),
                )
            )
    width = slot * 0.8 / max(len(series_names), 1)
    for label, name, key, value, row, index in zip(
        labels, names, keys, values, rows, slots, strict=True
    ):
        centre = LEFT + slot * (index + 0.5)
        data_y = text(row.get(y))
        tip = f"{label}{' · ' + name if series else ''}: {data_y or 'no value'}"
        if kind == "line":
            if value is None:
                continue
            parts.append(
                format_html(
                    '<circle class="point" cx="{}" cy="{}" r="4" fill="{}" '
                    'data-x="{}" data-y="{}"{}><title>{}</title></circle>',
                    _n(centre),
                    _n(y_at(value)),
                    colour[key],
                    label,
                    data_y,
                    format_html(' data-series="{}"', name) if series else "",
                    tip,
                )
            )
        else:
            left = centre - slot * 0.4 + width * rank[key]
            parts.append(
                format_html(
                    '<rect class="bar" x="{}" y="{}" width="{}" height="{}" '
                    'fill="{}" data-x="{}" data-y="{}"{}><title>{}</title></rect>',
                    _n(left),
                    _n(y_at(max(value or 0.0, 0.0))),
                    _n(width),
                    _n(abs(y_at(value or 0.0) - zero)),
                    colour[key],
                    label,
                    data_y,
                    format_html(' data-series="{}"', name) if series else "",
                    tip,
                )
            )
    if len(categories) <= 40:
        for index, label in enumerate(categories):
            centre = LEFT + slot * (index + 0.5)
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
            _n(top + plot_h / 2),
            _n(top + plot_h / 2),
            y,
        )
    )
    parts.append("</svg>")
    return mark_safe("".join(str(p) for p in parts))  # noqa: S308 - every part is format_html


def _legend(names: Sequence[str], labels: Sequence[str], colours: Sequence[str]) -> str:
    """One row of coloured squares and series labels under the title (``g.legend``); series
    that do not fit are counted in a last "+N more" item (the table lists them all)."""
    width = WIDTH - LEFT - RIGHT
    step = min(max(width / max(len(names), 1), 80.0), 140.0)
    fits = int(width // step)
    shown = list(names) if len(names) <= fits else list(names[: fits - 1])
    items = [
        format_html(
            '<g class="legend-item" data-series="{}"><rect x="{}" y="{}" width="10" height="10" '
            'fill="{}"/><text x="{}" y="{}" font-size="11">{}</text></g>',
            name,
            _n(LEFT + step * i),
            TOP - 8,
            colours[i],
            _n(LEFT + step * i + 14),
            TOP + 1,
            labels[i][: int((step - 20) // 7)],
        )
        for i, name in enumerate(shown)
    ]
    if len(shown) < len(names):
        items.append(
            format_html(
                '<text class="legend-more" x="{}" y="{}" font-size="11">+{} more</text>',
                _n(LEFT + step * len(shown)),
                TOP + 1,
                len(names) - len(shown),
            )
        )
    return '<g class="legend">' + "".join(str(item) for item in items) + "</g>"
