"""modelyard's right-sizing policy, and the static one that keeps what was provisioned.

modelyard's policy works on the raw samples of the last 7 days instead of a bucketed
histogram, so it needs no safety margin to cover bucket rounding:

- CPU: the recency-weighted (half-life 12 h) 95th percentile, plus 5 %. If more than 5 % of
  the last hour's samples ran above the target in force, the new target is at least the last
  hour's peak (the load moved; the history has not caught up yet). Sustained throttling
  (more than 10 % of periods) raises the target by 20 %, since throttled usage under-states
  the need.
- Memory: the peak of the last 24 h plus 5 %, and at least the peak of the last hour plus
  10 %: memory is not compressible, so the policy follows peaks, not percentiles. An OOM kill
  sets a floor of max(limit x 1.2, limit + 100 MiB) for 8 days, as VPA's bump does.
- HPA-awareness (``respect_hpa`` in ``recommendation.py``) is applied on top by ``tune``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from modelyard.capacity.recommendation import (
    Estimate,
    Provisioned,
    Recommendation,
    confidence_days,
)

__all__ = ["ModelyardPolicy", "ModelyardSettings", "StaticPolicy"]

_HOUR_S = 3600.0
_DAY_S = 86400.0
_MIB = 1024.0 * 1024.0
_Sample = tuple[float, float | None, float | None]


@dataclass(frozen=True, slots=True)
class ModelyardSettings:
    """Knobs of modelyard's policy, at the values measured in docs/capacity.md."""

    window_s: float = 7 * _DAY_S
    half_life_s: float = 12 * _HOUR_S
    cpu_percentile: float = 0.95
    cpu_margin: float = 0.05
    memory_peak_window_s: float = 108 * _HOUR_S
    memory_margin: float = 0.08
    memory_recent_margin: float = 0.05
    memory_young_margin: float = 0.20
    memory_young_half_life_s: float = 6 * _HOUR_S
    throttling_share: float = 0.10
    throttling_bump: float = 0.20
    oom_bump_ratio: float = 1.2
    oom_min_bump_bytes: float = 100 * _MIB
    oom_hold_s: float = 8 * _DAY_S
    min_cpu_cores: float = 0.01
    min_memory_bytes: float = 32 * _MIB


def weighted_quantile(values: Sequence[float], weights: Sequence[float], share: float) -> float:
    """The smallest value whose cumulative weight reaches ``share`` of the total."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    order = np.argsort(v, kind="stable")
    cumulative = np.cumsum(w[order])
    index = int(np.searchsorted(cumulative, share * cumulative[-1], side="left"))
    return float(v[order[min(index, len(v) - 1)]])


@dataclass(slots=True)
class ModelyardRecommender:
    """One container's recent samples and events under modelyard's policy."""

    settings: ModelyardSettings
    provisioned: Provisioned
    _samples: deque[_Sample] = field(default_factory=deque)
    _first_at: float | None = None
    _count: int = 0
    _oom_floor: tuple[float, float] | None = None
    _throttled: deque[tuple[float, float]] = field(default_factory=deque)
    _cpu_target: float | None = None

    def add(self, at: float, cpu_cores: float | None, memory_bytes: float | None) -> None:
        if self._first_at is None:
            self._first_at = at
        self._count += 1
        self._samples.append((at, cpu_cores, memory_bytes))
        while self._samples and self._samples[0][0] < at - self.settings.window_s:
            self._samples.popleft()

    def add_oom(self, at: float, memory_bytes: float) -> None:
        s = self.settings
        needed = max(memory_bytes * s.oom_bump_ratio, memory_bytes + s.oom_min_bump_bytes)
        if self._oom_floor is None or needed > self._oom_floor[1]:
            self._oom_floor = (at, needed)

    def add_throttling(self, at: float, share: float) -> None:
        self._throttled.append((at, share))

    def recommend(self, now: float) -> Recommendation | None:
        if self._first_at is None or not self._samples:
            return None
        s = self.settings
        recent = [x for x in self._samples if x[0] >= now - _HOUR_S]
        cpu = self._cpu(now, recent)
        memory = self._memory(now, recent)
        last_at = self._samples[-1][0]
        days = confidence_days(self._first_at, last_at, self._count)
        span = (last_at - self._first_at) / s.window_s
        notes = []
        if self._oom_floor is not None and now - self._oom_floor[0] < s.oom_hold_s:
            notes.append("memory raised after an OOM kill")
        return Recommendation(
            policy="modelyard",
            cpu_cores=cpu,
            memory_bytes=memory,
            samples=len(self._samples),
            window_s=last_at - self._samples[0][0],
            confidence=round(min(span, 1.0) * min(days * 1440 / max(self._count, 1), 1.0), 3)
            if days
            else 0.0,
            cpu_percentile=s.cpu_percentile if cpu else None,
            memory_percentile=1.0 if memory else None,
            notes=tuple(notes),
        )

    def _cpu(self, now: float, recent: list[_Sample]) -> Estimate | None:
        s = self.settings
        points = [(at, c) for at, c, _ in self._samples if c is not None]
        if not points:
            return None
        values = [c for _, c in points]
        weights = [2.0 ** ((at - now) / s.half_life_s) for at, _ in points]
        target = weighted_quantile(values, weights, s.cpu_percentile) * (1 + s.cpu_margin)
        recent_cpu = [c for _, c, _ in recent if c is not None]
        if self._cpu_target is not None and recent_cpu:
            above = sum(c > self._cpu_target for c in recent_cpu)
            if above > (1 - s.cpu_percentile) * len(recent_cpu):
                target = max(target, max(recent_cpu))
        throttled = [share for at, share in self._throttled if at >= now - _HOUR_S]
        if throttled and max(throttled) > s.throttling_share:
            target *= 1 + s.throttling_bump
        target = max(target, s.min_cpu_cores)
        self._cpu_target = target
        lower = max(weighted_quantile(values, weights, 0.5), s.min_cpu_cores)
        return Estimate(target, min(lower, target), max(max(values), target))

    def _memory(self, now: float, recent: list[_Sample]) -> Estimate | None:
        s = self.settings
        day = [m for at, _, m in self._samples if m is not None and at >= now - _DAY_S]
        if not day or self._first_at is None:
            return None
        # the week's peak is kept as it was; the margin goes on the last day's only
        week = max(
            m for at, _, m in self._samples if m is not None and at >= now - s.memory_peak_window_s
        )
        # a young series has not shown its peak yet: the margin starts wide and narrows
        age_s = now - self._first_at
        margin = s.memory_margin + s.memory_young_margin * 2.0 ** (
            -age_s / s.memory_young_half_life_s
        )
        target = max(max(day) * (1 + margin), week)
        recent_mem = [m for _, _, m in recent if m is not None]
        before = [
            m
            for at, _, m in self._samples
            if m is not None and now - 2 * _HOUR_S <= at < now - _HOUR_S
        ]
        if recent_mem:
            peak = max(recent_mem)
            growth = max(peak - max(before), 0.0) if before else 0.0
            target = max(target, (peak + growth) * (1 + s.memory_recent_margin))
        if self._oom_floor is not None and now - self._oom_floor[0] < s.oom_hold_s:
            target = max(target, self._oom_floor[1])
        target = max(target, s.min_memory_bytes)
        everything = [m for _, _, m in self._samples if m is not None]
        return Estimate(target, min(max(day), target), max(max(everything) * 1.2, target))


@dataclass(frozen=True, slots=True)
class ModelyardPolicy:
    """modelyard's policy with ``settings``."""

    settings: ModelyardSettings = ModelyardSettings()
    name: str = "modelyard"

    def recommender(self, provisioned: Provisioned) -> ModelyardRecommender:
        return ModelyardRecommender(self.settings, provisioned)


@dataclass(slots=True)
class StaticRecommender:
    """Recommends what was provisioned, whatever the usage."""

    provisioned: Provisioned
    _count: int = 0

    def add(self, at: float, cpu_cores: float | None, memory_bytes: float | None) -> None:
        self._count += 1

    def add_oom(self, at: float, memory_bytes: float) -> None:
        """A static policy ignores OOM kills: that is its weakness."""

    def add_throttling(self, at: float, share: float) -> None:
        """A static policy ignores throttling."""

    def recommend(self, now: float) -> Recommendation | None:
        p = self.provisioned
        cpu = Estimate(p.cpu_cores, p.cpu_cores, p.cpu_cores) if p.cpu_cores else None
        memory = (
            Estimate(p.memory_bytes, p.memory_bytes, p.memory_bytes) if p.memory_bytes else None
        )
        return Recommendation("static", cpu, memory, self._count, 0.0, 1.0)


@dataclass(frozen=True, slots=True)
class StaticPolicy:
    """Keep what was provisioned."""

    name: str = "static"

    def recommender(self, provisioned: Provisioned) -> StaticRecommender:
        return StaticRecommender(provisioned)
