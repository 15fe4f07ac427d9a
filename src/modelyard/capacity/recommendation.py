"""What a right-sizing policy says, and the one seam every policy implements.

A policy is a factory of ``Recommender`` objects, one per container (or model), fed in time
order: ``add`` a usage sample, ``add_oom`` an out-of-memory kill, ``add_throttling`` a stretch of
CPU throttling, then ``recommend(now)``. The replay and ``modelyard tune`` drive the same
objects, so a figure in ``docs/capacity.md`` is what ``tune`` would have said at that hour.
``respect_hpa`` holds the requests a horizontal autoscaler scales on (the rule is below).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

from modelyard.config.schema import Autoscaling

__all__ = [
    "Estimate",
    "Policy",
    "Provisioned",
    "Recommendation",
    "Recommender",
    "confidence_days",
    "respect_hpa",
]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A recommended amount of one resource with the range a request may sit in."""

    target: float
    lower: float
    upper: float


@dataclass(frozen=True, slots=True)
class Provisioned:
    """What a container has now: its requests (and memory limit, for OOM bumps)."""

    cpu_cores: float | None
    memory_bytes: float | None
    memory_limit_bytes: float | None = None


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One policy's advice at one moment, with the evidence it rests on."""

    policy: str
    cpu_cores: Estimate | None
    memory_bytes: Estimate | None
    samples: int
    window_s: float
    confidence: float
    """0-1: how far the history goes towards what the policy wants (7 days of regular samples)."""
    cpu_percentile: float | None = None
    memory_percentile: float | None = None
    notes: tuple[str, ...] = field(default=())


class Recommender(Protocol):
    """Per-container state of a policy, fed in time order."""

    def add(self, at: float, cpu_cores: float | None, memory_bytes: float | None) -> None:
        """One usage sample; ``None`` for a resource the source does not measure."""

    def add_oom(self, at: float, memory_bytes: float) -> None:
        """An out-of-memory kill at ``at`` of a container limited to ``memory_bytes``."""

    def add_throttling(self, at: float, share: float) -> None:
        """The share (0-1) of CPU periods throttled in the stretch ending at ``at``."""

    def recommend(self, now: float) -> Recommendation | None:
        """The advice at ``now`` from what was added so far; ``None`` without any sample."""


class Policy(Protocol):
    """A named way of right-sizing: makes one ``Recommender`` per container."""

    @property
    def name(self) -> str:
        """Short name of the policy in reports (``modelyard``, ``vpa``, ``static``)."""

    def recommender(self, provisioned: Provisioned) -> Recommender:
        """A fresh recommender for a container provisioned as ``provisioned``."""


def confidence_days(first_at: float, last_at: float, samples: int) -> float:
    """VPA's history confidence: the lesser of the span in days and samples / 1440.

    For one sample a minute over N days it equals N.
    """
    span_days = max(last_at - first_at, 0.0) / 86400.0
    return min(span_days, samples / 1440.0)


# HPA-awareness.
# The right-sizer must not fight the horizontal autoscaler.
#
# The rule: when a model autoscales on CPU (``autoscaling.enabled`` with ``cpu_percent``), HPA
# divides the replicas' CPU use by the CPU request to decide how many replicas to run, so the
# request is the autoscaler's yardstick, not a forecast of use. Lowering it towards use would
# make HPA add replicas, which lowers use per replica, which would lower the request again: a
# spiral. So modelyard keeps the CPU request as it is and right-sizes memory only; the same for
# memory when ``memory_percent`` is set. Scaling on request rate (``rps_per_replica``) does not
# read the request, so both are right-sized then.


def respect_hpa(
    rec: Recommendation, autoscaling: Autoscaling, provisioned: Provisioned
) -> Recommendation:
    """``rec`` with the resources the HPA scales on held at their current requests."""
    if not autoscaling.enabled:
        return rec
    notes = list(rec.notes)
    cpu, memory = rec.cpu_cores, rec.memory_bytes
    if autoscaling.cpu_percent is not None and provisioned.cpu_cores is not None:
        held = provisioned.cpu_cores
        cpu = Estimate(held, held, held)
        notes.append(
            f"cpu held: HPA scales replicas at {autoscaling.cpu_percent}% of the CPU request"
        )
    if autoscaling.memory_percent is not None and provisioned.memory_bytes is not None:
        held = provisioned.memory_bytes
        memory = Estimate(held, held, held)
        notes.append(
            f"memory held: HPA scales replicas at {autoscaling.memory_percent}% of the request"
        )
    return replace(rec, cpu_cores=cpu, memory_bytes=memory, notes=tuple(notes))
