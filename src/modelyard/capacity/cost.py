"""Cost per team, DRI and model, per day, from usage history and ``prices``.

Each usage sample stands for the time until the next sample of the same subject (at most
``max_gap_s``, so a stopped server costs nothing while it is down). Over that time the
subject *used* its measured cores and bytes and *held* its requests (what a cluster bills);
both are priced with ``prices`` (per core-hour, GiB-hour and GPU-hour). ``waste`` is the share
of the requested cost not used. Training (``train:<model>``) and serving (``server:<model>``)
are kept apart. On Kubernetes the same figures come from Prometheus (see docs/capacity.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from modelyard.config.schema import Prices
from modelyard.observe.usage import UsageSample

__all__ = ["CostLine", "Requests", "cost_report"]

_GIB = float(2**30)


@dataclass(frozen=True, slots=True)
class Requests:
    """What one replica or job of a model asks for."""

    cpu_cores: float
    memory_bytes: float
    gpus: int = 0


@dataclass(frozen=True, slots=True)
class CostLine:
    """The usage of one subject of one model, and whom it belongs to."""

    model: str
    team: str
    dri: str
    kind: str  # "training" or "serving"
    requests: Requests
    samples: Sequence[UsageSample]


@dataclass(slots=True)
class _Day:
    used: float = 0.0
    requested: float = 0.0
    training: float = 0.0
    serving: float = 0.0


@dataclass(slots=True)
class _Group:
    days: dict[str, _Day] = field(default_factory=dict)


def _day(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).date().isoformat()


def _priced(
    prices: Prices, cpu_cores: float, memory_bytes: float, gpus: float, hours: float
) -> float:
    return hours * (
        cpu_cores * prices.cpu_hour
        + memory_bytes / _GIB * prices.memory_gib_hour
        + gpus * prices.gpu_hour
    )


def cost_report(
    lines: Iterable[CostLine],
    prices: Prices,
    *,
    by: str,
    days: int,
    now: float,
    max_gap_s: float = 120.0,
) -> dict[str, object]:
    """Daily cost per group (``by`` = team, dri or model) over the last ``days`` days."""
    if by not in ("team", "dri", "model"):
        raise ValueError(f"cannot group by {by!r}; use team, dri or model")
    day_names = [_day(now - 86400 * i) for i in range(days - 1, -1, -1)]
    groups: dict[str, _Group] = {}
    for line in lines:
        group = groups.setdefault(str(getattr(line, by)), _Group())
        req = line.requests
        following_of: list[UsageSample | None] = [*line.samples[1:], None] if line.samples else []
        for sample, following in zip(line.samples, following_of, strict=True):
            end = following.at if following is not None else sample.at + max_gap_s / 2
            hours = min(max(end - sample.at, 0.0), max_gap_s) / 3600.0
            name = _day(sample.at)
            if name not in day_names:
                continue
            day = group.days.setdefault(name, _Day())
            requested = _priced(prices, req.cpu_cores, req.memory_bytes, req.gpus, hours)
            # a GPU's use is not sampled: a requested GPU counts as used
            used = _priced(prices, sample.cpu_cores, sample.memory_bytes, req.gpus, hours)
            day.requested += requested
            day.used += min(used, requested) if requested else used
            if line.kind == "training":
                day.training += requested
            else:
                day.serving += requested
    return {
        "by": by,
        "days": day_names,
        "prices": prices.model_dump(),
        "groups": [_group_view(name, g, day_names) for name, g in sorted(groups.items())],
    }


def _group_view(name: str, group: _Group, day_names: list[str]) -> dict[str, object]:
    series = [group.days.get(d, _Day()) for d in day_names]
    requested = [round(d.requested, 6) for d in series]
    total = sum(d.requested for d in series)
    used = sum(d.used for d in series)
    today, yesterday = requested[-1], requested[-2] if len(requested) > 1 else 0.0
    week = sum(requested[-7:])
    previous_week = sum(requested[-14:-7])
    cost = round(total, 6)
    training = round(sum(d.training for d in series), 6)
    return {
        "name": name,
        "cost": cost,
        "training": training,
        # the rest of the shown total, so that the two shown parts add up to it (rounding
        # each part on its own could leave them a millionth apart)
        "serving": round(cost - training, 6),
        "used": round(used, 6),
        "waste": round(1 - used / total, 4) if total else 0.0,
        "daily": requested,
        "today": today,
        "day_over_day": round(today / yesterday - 1, 4) if yesterday else None,
        "week_over_week": round(week / previous_week - 1, 4) if previous_week else None,
    }
