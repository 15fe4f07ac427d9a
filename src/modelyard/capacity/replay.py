"""Replay of a usage trace through right-sizing policies, hour by hour, and its scores.

Each container's samples are walked in time order. At every hour boundary after the first
sample a policy recommends from the samples before that boundary only, and the recommendation
holds until the next boundary; the samples in between are scored against it. ``slack`` is
sum(max(recommended - used, 0)) over sum(recommended), ``under`` the share of samples with
used > recommended, per resource; totals pool every scored sample of every container.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from modelyard.capacity.recommendation import Policy, Recommendation
from modelyard.capacity.traces import Trace, TraceSeries

__all__ = ["Score", "SeriesReplay", "replay_series", "replay_trace"]

HOUR_S = 3600.0


@dataclass(slots=True)
class Score:
    """Running slack and under-provisioning of one resource."""

    recommended: float = 0.0
    slack: float = 0.0
    samples: int = 0
    under: int = 0

    def add(self, recommended: float, used: float) -> None:
        self.recommended += recommended
        self.slack += max(recommended - used, 0.0)
        self.samples += 1
        self.under += used > recommended

    def merge(self, other: Score) -> None:
        self.recommended += other.recommended
        self.slack += other.slack
        self.samples += other.samples
        self.under += other.under

    def as_dict(self) -> dict[str, float | int]:
        return {
            "slack": round(self.slack / self.recommended, 4) if self.recommended else 0.0,
            "under": round(self.under / self.samples, 4) if self.samples else 0.0,
            "samples": self.samples,
            "under_samples": self.under,
        }


@dataclass(slots=True)
class SeriesReplay:
    """One container under one policy: its piecewise-constant recommendations and scores."""

    container: str
    policy: str
    recommendations: list[dict[str, float | None]] = field(default_factory=list)
    cpu: Score = field(default_factory=Score)
    memory: Score = field(default_factory=Score)


def _first_boundary(at: float) -> float:
    return (math.floor(at / HOUR_S) + 1) * HOUR_S


def replay_series(series: TraceSeries, policy: Policy) -> SeriesReplay:
    """Walk ``series`` hour by hour under ``policy`` (see the module docstring)."""
    result = SeriesReplay(series.container, policy.name)
    if not series.at:
        return result
    has_cpu = bool(series.cpu_cores)
    recommender = policy.recommender(series.provisioned)
    boundary = _first_boundary(series.at[0])
    current: Recommendation | None = None
    for i, at in enumerate(series.at):
        while at >= boundary:
            current = recommender.recommend(boundary)
            _note(result, boundary, current, has_cpu)
            boundary += HOUR_S
        cpu = series.cpu_cores[i] if has_cpu else None
        memory = series.memory_bytes[i]
        if current is not None:
            if cpu is not None and current.cpu_cores is not None:
                result.cpu.add(current.cpu_cores.target, cpu)
            if current.memory_bytes is not None:
                result.memory.add(current.memory_bytes.target, memory)
        recommender.add(at, cpu, memory)
    return result


def _note(result: SeriesReplay, boundary: float, rec: Recommendation | None, has_cpu: bool) -> None:
    if rec is None:
        return
    entry: dict[str, float | None] = {"from": boundary}
    if has_cpu:
        entry["cpu"] = round(rec.cpu_cores.target, 4) if rec.cpu_cores else None
    entry["memory"] = round(rec.memory_bytes.target) if rec.memory_bytes else None
    last = result.recommendations[-1] if result.recommendations else None
    if last is None or any(last.get(k) != entry[k] for k in entry if k != "from"):
        result.recommendations.append(entry)


def replay_trace(trace: Trace, policies: Sequence[Policy]) -> dict[str, object]:
    """The replay report of every series under every policy, with totals per policy."""
    has_cpu = any(s.cpu_cores for s in trace.series)
    containers: list[dict[str, object]] = []
    totals = {p.name: (Score(), Score()) for p in policies}
    for series in trace.series:
        entry: dict[str, object] = {"container": series.container, "policies": {}}
        for policy in policies:
            done = replay_series(series, policy)
            cpu_total, memory_total = totals[policy.name]
            cpu_total.merge(done.cpu)
            memory_total.merge(done.memory)
            scores: dict[str, object] = {"memory": done.memory.as_dict()}
            if has_cpu:
                scores["cpu"] = done.cpu.as_dict()
            entry["policies"][policy.name] = {  # type: ignore[index]
                "recommendations": done.recommendations,
                **scores,
            }
        containers.append(entry)
    total_view: dict[str, object] = {}
    for name, (cpu_total, memory_total) in totals.items():
        view: dict[str, object] = {"memory": memory_total.as_dict()}
        if has_cpu:
            view["cpu"] = cpu_total.as_dict()
        total_view[name] = view
    return {
        "containers": containers,
        "totals": total_view,
        "rows": trace.rows,
        "skipped": len(trace.skipped),
        "skipped_rows": [str(s) for s in trace.skipped[:50]],
    }
