"""Which loaded models to evict so that a load fits the pool's memory budget: pure.

Least recently used first, among the models that may go (not pinned, nothing in flight, no
canary or shadow mid-rollout); as many as it takes for the measured memory of those that stay
plus the load's to fit. The sizes are what each model's load was measured to take.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Resident:
    """A loaded model as the eviction choice sees it."""

    name: str
    memory_bytes: int
    """The RSS growth its load caused (measured)."""
    last_used: float
    """When a request last finished or started on it (the pool's clock)."""
    evictable: bool
    """False when pinned, answering a request, or holding a canary or shadow."""


def choose_evictions(
    residents: Sequence[Resident], need_bytes: int, budget_bytes: int
) -> list[str]:
    """The names to evict, in order, so that ``need_bytes`` more fit in ``budget_bytes``.

    When even evicting every evictable model would not make room, every evictable model is
    still chosen: the budget is a ceiling, and the pool gets as close to it as it may.
    """
    used = sum(r.memory_bytes for r in residents)
    if used + need_bytes <= budget_bytes:
        return []
    chosen: list[str] = []
    for resident in sorted((r for r in residents if r.evictable), key=lambda r: r.last_used):
        chosen.append(resident.name)
        used -= resident.memory_bytes
        if used + need_bytes <= budget_bytes:
            break
    return chosen


def typical_bytes(measured: Sequence[int]) -> int:
    """What a model never loaded here is expected to take: the median of those measured so
    far (0 before the first load). Only an estimate to make room with; the load is measured."""
    if not measured:
        return 0
    ordered = sorted(measured)
    return ordered[len(ordered) // 2]
