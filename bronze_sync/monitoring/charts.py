"""Inline SVG bar charts with a labelled value axis, gridlines and a value on every bar."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 620, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 48  # room for the axis titles and tick labels
COLOURS = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1"]
TICKS = 4


def nice_top(value: float) -> float:
    """Return a round axis maximum at or above `value` (1, 2, 2.5 or 5 times a power of 10)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:,.2g}"


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    x_title: str,
    y_title: str,
) -> str:
    """Return an SVG bar chart: one group of bars per label, one colour per series."""
    top = nice_top(max([v for values in series.values() for v in values] + [0]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base = TOP + plot_h
    slot = plot_w / max(len(labels), 1)
    bar = slot * 0.8 / max(len(series), 1)
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{HEIGHT + 18}" role="img" aria-label="{escape(title)}">',
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    parts += _value_axis(top, plot_h, base, y_title)
    for i, label in enumerate(labels):
        x0 = LEFT + i * slot + slot * 0.1
        for j, (name, values) in enumerate(series.items()):
            parts += _bar(name, label, values[i], x0 + j * bar, bar, top, plot_h, base, j)
        parts.append(
            f'<text x="{x0 + slot * 0.4:.1f}" y="{base + 14}" font-size="10" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts.append(
        f'<text class="axis-title" x="{LEFT + plot_w / 2:.0f}" y="{base + 30}" font-size="11" '
        f'text-anchor="middle">{escape(x_title)}</text>'
    )
    for j, name in enumerate(series):
        parts.append(
            f'<text x="{LEFT + j * 120}" y="{HEIGHT + 12}" font-size="11" '
            f'fill="{COLOURS[j % len(COLOURS)]}">■ {escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _value_axis(top: float, plot_h: float, base: float, y_title: str) -> list[str]:
    """Return the value axis: gridlines with tick values, and its title."""
    parts = []
    for k in range(TICKS + 1):
        value = top * k / TICKS
        y = base - plot_h * k / TICKS
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="{"#999" if k == 0 else "#e2e2e2"}"/>'
        )
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" font-size="10" '
            f'text-anchor="end">{_number(value)}</text>'
        )
    middle = base - plot_h / 2
    parts.append(
        f'<text class="axis-title" x="14" y="{middle:.0f}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 14 {middle:.0f})">{escape(y_title)}</text>'
    )
    return parts


def _bar(
    name: str,
    label: str,
    value: float,
    x: float,
    width: float,
    top: float,
    plot_h: float,
    base: float,
    series: int,
) -> list[str]:
    """Return one bar and its value written above it."""
    h = plot_h * value / top
    return [
        f'<rect class="bar" data-series="{escape(name)}" data-label="{escape(label)}" '
        f'data-value="{value:g}" x="{x:.1f}" y="{base - h:.1f}" width="{width:.1f}" '
        f'height="{h:.1f}" fill="{COLOURS[series % len(COLOURS)]}">'
        f"<title>{escape(name)} {escape(label)}: {value:,.6g}</title></rect>",
        f'<text class="value" x="{x + width / 2:.1f}" y="{base - h - 3:.1f}" font-size="9" '
        f'text-anchor="middle">{_number(value)}</text>',
    ]
