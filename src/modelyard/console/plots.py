"""Inline SVG plots: a line over time (usage) and bars per day (cost), no JavaScript.

The console draws where people would rather look than read; an ``<svg>`` in the page needs no
chart library, no frontend build and no request of its own, and prints. Every label passes
through :func:`html.escape`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

WIDTH = 560
HEIGHT = 160
PAD_LEFT = 64
PAD_BOTTOM = 24
PAD_TOP = 10


def _scale(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high == low:
        high = low + (abs(low) or 1.0)
    return min(low, 0.0), high


def _frame(title: str, top_label: str, left: str, right: str, body: str) -> str:
    plot_bottom = HEIGHT - PAD_BOTTOM
    return (
        f'<svg class="plot" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
        f'<line x1="{PAD_LEFT}" y1="{plot_bottom}" x2="{WIDTH}" y2="{plot_bottom}" class="axis"/>'
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{plot_bottom}" class="axis"/>'
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 8}" text-anchor="end">{escape(top_label)}</text>'
        f'<text x="{PAD_LEFT - 4}" y="{plot_bottom}" text-anchor="end">0</text>'
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 6}">{escape(left)}</text>'
        f'<text x="{WIDTH}" y="{HEIGHT - 6}" text-anchor="end">{escape(right)}</text>'
        f"{body}</svg>"
    )


def _clock(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%m-%d %H:%M")


def line_plot(title: str, points: Sequence[tuple[float, float]], unit: str, digits: int = 3) -> str:
    """``points`` as (Unix time, value) joined by a line; a note when there are none."""
    if not points:
        return f'<p class="empty">{escape(title)}: no samples yet</p>'
    times = [t for t, _ in points]
    values = [v for _, v in points]
    t0, t1 = min(times), max(times)
    span = (t1 - t0) or 1.0
    low, high = _scale(values)
    width, height = WIDTH - PAD_LEFT - 4, HEIGHT - PAD_BOTTOM - PAD_TOP

    def xy(t: float, v: float) -> str:
        x = PAD_LEFT + (t - t0) / span * width
        y = PAD_TOP + (1 - (v - low) / (high - low)) * height
        return f"{x:.1f},{y:.1f}"

    path = " ".join(xy(t, v) for t, v in points)
    body = f'<polyline points="{path}" class="series"/>'
    top = f"{high:.{digits}g} {unit}"
    return _frame(title, top, _clock(t0) + " UTC", _clock(t1), body)


def bar_plot(title: str, labels: Sequence[str], values: Sequence[float], unit: str) -> str:
    """One bar per label (a day, say), with its value as the bar's tooltip."""
    if not values or not any(values):
        return f'<p class="empty">{escape(title)}: nothing recorded yet</p>'
    _low, high = _scale(values)
    width, height = WIDTH - PAD_LEFT - 4, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = width / len(values)
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = max(value, 0.0) / high * height
        x = PAD_LEFT + i * step + step * 0.1
        y = PAD_TOP + height - h
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.8:.1f}" height="{h:.1f}" '
            f'class="bar"><title>{escape(label)}: {value:.4g} {escape(unit)}</title></rect>'
        )
    return _frame(title, f"{high:.3g} {unit}", labels[0], labels[-1], "".join(bars))
