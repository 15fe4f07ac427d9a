"""The Kubernetes VPA recommender as a baseline policy, from its documented defaults.

CPU: every sample goes into a decaying histogram (half-life 24 h) weighted by the container's
CPU request (at least 0.1 core); the target is its 90th percentile, the lower and upper bounds
the 50th and 95th. Memory: one peak per 24-hour interval, the last 8 intervals kept, in a
histogram with the same half-life; the same percentiles. Then a 15 % safety margin on all six,
the confidence multipliers on the bounds (upper x (1 + 1/conf), lower x (1 + 0.001/conf)^-2,
conf = min(days of history, samples / 1440)), and floors of 25 millicores and 250 MiB.
An OOM kill adds a memory peak of max(used + 100 MiB, used x 1.2), used being the larger of
the request and the interval's peak. Source: kubernetes/autoscaler,
vertical-pod-autoscaler/pkg/recommender (logic/recommender.go, logic/estimator.go,
model/aggregations_config.go, model/container.go, util/histogram.go).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from modelyard.capacity.histogram import CPU_BUCKETS, MEMORY_BUCKETS, DecayingHistogram
from modelyard.capacity.recommendation import (
    Estimate,
    Provisioned,
    Recommendation,
    confidence_days,
)

__all__ = ["VpaPolicy", "VpaRecommender", "VpaSettings"]

_DAY_S = 86400.0
_MIB = 1024.0 * 1024.0


@dataclass(frozen=True, slots=True)
class VpaSettings:
    """The recommender's flags and constants, at their defaults."""

    half_life_s: float = _DAY_S
    target_percentile: float = 0.9
    lower_percentile: float = 0.5
    upper_percentile: float = 0.95
    margin_fraction: float = 0.15
    min_cpu_cores: float = 0.025
    min_memory_bytes: float = 250 * _MIB
    memory_interval_s: float = _DAY_S
    memory_intervals: int = 8
    oom_bump_ratio: float = 1.2
    oom_min_bump_bytes: float = 100 * _MIB
    min_sample_weight: float = 0.1


@dataclass(slots=True)
class _Peak:
    window_end: float
    usage: float = 0.0
    oom: float = 0.0

    @property
    def value(self) -> float:
        return max(self.usage, self.oom)


@dataclass(slots=True)
class VpaRecommender:
    """One container's VPA state: the CPU histogram and the memory peaks per interval."""

    settings: VpaSettings
    provisioned: Provisioned
    _cpu: DecayingHistogram | None = None
    _peaks: list[_Peak] = field(default_factory=list)
    _first_at: float | None = None
    _last_at: float = 0.0
    _samples: int = 0
    _cpu_request: float | None = None

    def __post_init__(self) -> None:
        self._cpu_request = self.provisioned.cpu_cores

    def add(self, at: float, cpu_cores: float | None, memory_bytes: float | None) -> None:
        if self._first_at is None:
            self._first_at = at
        self._last_at = at
        self._samples += 1
        if cpu_cores is not None:
            if self._cpu is None:
                self._cpu = DecayingHistogram(CPU_BUCKETS, self.settings.half_life_s)
            weight = max(self._cpu_request or 0.0, self.settings.min_sample_weight)
            self._cpu.add(cpu_cores, weight, at)
        if memory_bytes is not None:
            self._add_memory(at, memory_bytes, oom=False)

    def _add_memory(self, at: float, value: float, *, oom: bool) -> None:
        if not self._peaks:
            self._peaks.append(_Peak(window_end=at))
        current = self._peaks[-1]
        if at >= current.window_end:
            interval = self.settings.memory_interval_s
            shift = math.floor((at - current.window_end) / interval) * interval + interval
            current = _Peak(window_end=current.window_end + shift)
            self._peaks.append(current)
            del self._peaks[: -self.settings.memory_intervals]
        if oom:
            current.oom = max(current.oom, value)
        else:
            current.usage = max(current.usage, value)

    def add_oom(self, at: float, memory_bytes: float) -> None:
        request = self.provisioned.memory_bytes or memory_bytes
        peak = self._peaks[-1].usage if self._peaks else 0.0
        used = max(request, peak)
        needed = max(used + self.settings.oom_min_bump_bytes, used * self.settings.oom_bump_ratio)
        self._add_memory(at, needed, oom=True)

    def add_throttling(self, at: float, share: float) -> None:
        """VPA does not read throttling; only usage samples move its CPU histogram."""

    def recommend(self, now: float) -> Recommendation | None:
        if self._first_at is None:
            return None
        s = self.settings
        conf = confidence_days(self._first_at, self._last_at, self._samples)
        cpu = None
        if self._cpu is not None:
            cpu = self._estimate(self._cpu, conf, s.min_cpu_cores)
            self._cpu_request = cpu.target
        memory = None
        if self._peaks:
            peaks = DecayingHistogram(MEMORY_BUCKETS, s.half_life_s)
            for peak in self._peaks:
                if peak.value > 0:
                    peaks.add(peak.value, 1.0, peak.window_end)
            memory = self._estimate(peaks, conf, s.min_memory_bytes)
        return Recommendation(
            policy="vpa",
            cpu_cores=cpu,
            memory_bytes=memory,
            samples=self._samples,
            window_s=self._last_at - self._first_at,
            confidence=min(conf / 7.0, 1.0),
            cpu_percentile=s.target_percentile if cpu else None,
            memory_percentile=s.target_percentile if memory else None,
        )

    def _estimate(self, hist: DecayingHistogram, conf: float, floor: float) -> Estimate:
        s = self.settings
        margin = 1.0 + s.margin_fraction
        target = hist.percentile(s.target_percentile) * margin
        lower = hist.percentile(s.lower_percentile) * margin
        upper = hist.percentile(s.upper_percentile) * margin
        if conf > 0:
            upper *= 1.0 + 1.0 / conf
            lower *= (1.0 + 0.001 / conf) ** -2.0
        else:
            upper, lower = math.inf, 0.0
        return Estimate(max(target, floor), max(lower, floor), max(upper, floor))


@dataclass(frozen=True, slots=True)
class VpaPolicy:
    """The VPA baseline: ``VpaRecommender`` with ``settings``."""

    settings: VpaSettings = VpaSettings()
    name: str = "vpa"

    def recommender(self, provisioned: Provisioned) -> VpaRecommender:
        return VpaRecommender(self.settings, provisioned)
