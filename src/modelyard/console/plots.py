"""Inline SVG plots: a line over time (usage) and bars per day (cost), no JavaScript.

The console draws where people would rather look than read; an ``<svg>`` in the page needs no
chart library, no frontend build and no request of its own, and prints. This module does the
arithmetic (scales, coordinates, labels) and returns a :class:`Plot`; the markup is the
``plot`` macro of ``templates/_macros.html``, where Jinja2 escapes every label.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Frame:
    """The drawing area of every plot, in SVG user units."""

    width: int = 560
    height: int = 160
    pad_left: int = 64
    pad_bottom: int = 24
    pad_top: int = 10

    @property
    def bottom(self) -> int:
        """The y of the time (or day) axis."""
        return self.height - self.pad_bottom

    @property
    def inner_width(self) -> int:
        return self.width - self.pad_left - 4

    @property
    def inner_height(self) -> int:
        return self.height - self.pad_bottom - self.pad_top


FRAME = Frame()


@dataclass(frozen=True)
class Bar:
    """One bar, its top-left corner and size, and its tooltip (plain text)."""

    x: float
    y: float
    width: float
    height: float
    tooltip: str


@dataclass(frozen=True)
class Plot:
    """What the template draws: labels are plain text, coordinates already scaled."""

    title: str
    top_label: str = ""
    left_label: str = ""
    right_label: str = ""
    line: str = ""
    """A polyline's points, ``"x,y x,y ..."``; empty for a bar plot."""
    bars: tuple[Bar, ...] = ()
    empty: str | None = None
    """A note shown instead of the plot when there is nothing to draw."""
    frame: Frame = FRAME


def _scale(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high == low:
        high = low + (abs(low) or 1.0)
    return min(low, 0.0), high


def _clock(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%m-%d %H:%M")


def line_plot(
    title: str, points: Sequence[tuple[float, float]], unit: str, digits: int = 3
) -> Plot:
    """``points`` as (Unix time, value) joined by a line; a note when there are none."""
    if not points:
        return Plot(title, empty="no samples yet")
    times = [t for t, _ in points]
    values = [v for _, v in points]
    t0, t1 = min(times), max(times)
    span = (t1 - t0) or 1.0
    low, high = _scale(values)
    f = FRAME

    def xy(t: float, v: float) -> str:
        x = f.pad_left + (t - t0) / span * f.inner_width
        y = f.pad_top + (1 - (v - low) / (high - low)) * f.inner_height
        return f"{x:.1f},{y:.1f}"

    path = " ".join(xy(t, v) for t, v in points)
    top = f"{high:.{digits}g} {unit}"
    return Plot(title, top, _clock(t0) + " UTC", _clock(t1), line=path)


def bar_plot(title: str, labels: Sequence[str], values: Sequence[float], unit: str) -> Plot:
    """One bar per label (a day, say), with its value as the bar's tooltip."""
    if not values or not any(values):
        return Plot(title, empty="nothing recorded yet")
    _low, high = _scale(values)
    f = FRAME
    step = f.inner_width / len(values)
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = max(value, 0.0) / high * f.inner_height
        x = f.pad_left + i * step + step * 0.1
        y = f.pad_top + f.inner_height - h
        bars.append(Bar(x, y, step * 0.8, h, f"{label}: {value:.4g} {unit}"))
    return Plot(title, f"{high:.3g} {unit}", labels[0], labels[-1], bars=tuple(bars))
