"""What ``tune`` may write: a policy's advice held to the evidence behind it.

A policy's target is its best guess; writing it into ``deploy.yaml`` is a bet that the history
showed what the model will need. The probe of issue 20 lost that bet: 30 s of an idle server
(4 samples) rewrote ``memory: 512Mi`` to ``150Mi``, and the first traffic (PyArrow loads with
the prediction log) needed 186 MiB. So, on top of any policy:

- **Never below what was seen.** The memory target is at least the largest RSS in the history
  plus :data:`SEEN_MARGIN`. CPU is compressible (a busy server is throttled, not killed), so
  its target stays the policy's percentile.
- **Bounds widen with short or sparse history**, as VPA's do: with ``c`` days of confidence
  (the span in days, or samples / 1440 when sparser than one a minute), the upper bound is
  multiplied by ``1 + 1/c`` and the lower by ``(1 + 0.001/c)^-2``. A request is only rewritten
  when it lies outside ``[lower, upper]``, so a young history changes nothing that is not
  clearly wrong.
- **A memory kill raises the floor**: an OOM kill (or a restart the supervisor put down to
  memory) is fed to the policy, whose target then bumps above the limit that was hit; the
  lower bound follows, so the raise is written.
- **Lowering needs history**: a request is never lowered with under :data:`MIN_HISTORY_S` of
  history sampled at least every :data:`MAX_SAMPLE_GAP_S` on average; ``--write`` says how
  much more it needs, and ``--force`` writes anyway. Raises are always allowed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from modelyard.capacity.recommendation import Estimate, Recommendation, confidence_days
from modelyard.observe.usage import UsageSample

SEEN_MARGIN = 0.10
"""Memory is never recommended below the largest RSS seen times ``1 + SEEN_MARGIN``."""
MIN_HISTORY_S = 24 * 3600.0
"""History a request must have before ``tune --write`` lowers it: one daily cycle."""
MAX_SAMPLE_GAP_S = 600.0
"""Sparser history (on average) than one sample per this many seconds counts as too little."""


@dataclass(frozen=True, slots=True)
class History:
    """What a usage history covers."""

    span_s: float
    samples: int
    largest_memory_bytes: float | None

    @property
    def needed_s(self) -> float:
        """Seconds more of history (at the sampling cadence) before a lowering is written."""
        by_span = MIN_HISTORY_S - self.span_s
        by_count = (MIN_HISTORY_S / MAX_SAMPLE_GAP_S - self.samples) * MAX_SAMPLE_GAP_S
        return max(by_span, by_count, 0.0)

    @property
    def confidence_days(self) -> float:
        return confidence_days(0.0, self.span_s, self.samples)


def history_of(samples: Sequence[UsageSample]) -> History:
    if not samples:
        return History(0.0, 0, None)
    stamps = [s.at for s in samples]
    memory = [s.memory_bytes for s in samples if s.memory_bytes is not None]
    return History(max(stamps) - min(stamps), len(samples), max(memory) if memory else None)


def _widen(est: Estimate, days: float, floor: float = 0.0) -> Estimate:
    if days <= 0:
        return Estimate(max(est.target, floor), floor, math.inf)
    upper = est.upper * (1 + 1 / days)
    lower = est.lower * (1 + 0.001 / days) ** -2
    target = max(est.target, floor)
    return Estimate(target, min(max(lower, floor), target), max(upper, target))


def guard(rec: Recommendation, history: History, oom: bool = False) -> Recommendation:
    """``rec`` held to its evidence: the seen floor on memory and bounds widened by history.

    ``oom``: a memory kill is in the history (the policy's target already bumped above it);
    the lower bound is then the target, so that the raise is written.
    """
    days = history.confidence_days
    notes = list(rec.notes)
    memory = rec.memory_bytes
    if memory is not None:
        seen = history.largest_memory_bytes or 0.0
        floor = seen * (1 + SEEN_MARGIN)
        if floor > memory.target:
            notes.append(f"memory held at the largest seen plus {SEEN_MARGIN:.0%}")
        memory = _widen(memory, days, floor)
        if oom:
            memory = Estimate(memory.target, memory.target, max(memory.upper, memory.target))
    cpu = _widen(rec.cpu_cores, days) if rec.cpu_cores is not None else None
    if history.needed_s > 0:
        notes.append(f"short history: bounds widened ({history.samples} samples)")
    return replace(rec, cpu_cores=cpu, memory_bytes=memory, notes=tuple(notes))


def change(current: float | None, est: Estimate | None) -> float | None:
    """The amount to write for one resource, or None to leave ``current`` as it is."""
    if est is None or current is None:
        return None
    if est.lower <= current <= est.upper:
        return None
    return est.target


def describe_wait(seconds: float) -> str:
    hours, rest = divmod(math.ceil(seconds), 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{max(rest // 60, 1)} min"
