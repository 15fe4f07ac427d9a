"""Five-field cron schedules (minute hour day-of-month month day-of-week), in UTC.

Only what a scheduler needs: the latest fire time at or before a moment. Fields take ``*``,
numbers, ranges ``a-b``, lists ``a,b`` and steps ``*/n`` or ``a-b/n``; as in cron, when both
day fields are restricted a day matches either.

It lives in ``config``, the bottom layer, so that ``model.yaml``'s ``training.schedule`` is
checked field by field when the workspace loads (``"99 99 * * *"`` is refused there, with its
line), by the same parser the scheduler fires with.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from modelyard.errors import ConfigError

_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_NAMES = ("minute", "hour", "day of month", "month", "day of week")
_MONTH_DAYS = {
    1: 31,
    2: 29,
    3: 31,
    4: 30,
    5: 31,
    6: 30,
    7: 31,
    8: 31,
    9: 30,
    10: 31,
    11: 30,
    12: 31,
}


class BadSchedule(ConfigError):
    """A ``training.schedule`` that is not a valid five-field cron expression."""


def _field(text: str, index: int, expr: str) -> frozenset[int]:
    low, high = _BOUNDS[index]
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                start, end = low, high
            elif "-" in base:
                start, end = (int(v) for v in base.split("-", 1))
            else:
                start = end = int(base)
        except ValueError:
            raise BadSchedule(
                f"schedule {expr!r}: {_NAMES[index]} {part!r} is not a number"
            ) from None
        if index == 4 and end == 7 and step >= 1:  # 7 is Sunday too
            if start == 7:
                start = end = 0
            else:
                end = 6
                if start >= 0 and (7 - start) % step == 0:
                    values.add(0)
        if not (low <= start <= end <= high) or step < 1:
            raise BadSchedule(
                f"schedule {expr!r}: {_NAMES[index]} {part!r} is outside {low}-{high}"
            )
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    """A parsed schedule."""

    expr: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    """0 is Sunday, as in cron."""
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, expr: str) -> Cron:
        parts = expr.split()
        if len(parts) != 5:
            raise BadSchedule(f"schedule {expr!r} needs five fields, like '0 3 * * *'")
        minute, hour, day, month, weekday = (_field(t, i, expr) for i, t in enumerate(parts))
        any_day, any_weekday = parts[2] == "*", parts[4] == "*"
        if any_weekday and not any_day and min(day) > max(_MONTH_DAYS[m] for m in month):
            raise BadSchedule(
                f"schedule {expr!r} never fires: no month it names has day {min(day)}"
            )
        return cls(expr, minute, hour, day, month, weekday, any_day, any_weekday)

    def _day_matches(self, day: dt.datetime) -> bool:
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    def previous(self, at: float) -> float:
        """The latest fire time (Unix seconds) at or before ``at``."""
        t = dt.datetime.fromtimestamp(at, dt.UTC).replace(second=0, microsecond=0)
        for _ in range(200_000):
            if t.month not in self.months:
                t = t.replace(day=1, hour=0, minute=0) - dt.timedelta(minutes=1)
            elif not self._day_matches(t):
                t = t.replace(hour=0, minute=0) - dt.timedelta(minutes=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) - dt.timedelta(minutes=1)
            elif t.minute not in self.minutes:
                t -= dt.timedelta(minutes=1)
            else:
                return t.timestamp()
        raise BadSchedule(f"schedule {self.expr!r} never fires")
