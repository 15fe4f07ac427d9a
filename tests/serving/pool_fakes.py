"""Test doubles of the pool tests: models whose load is metered, a manual clock, a pool.

A ``MeteredModel`` adds its declared ``size`` to ``METER`` when it is unpickled (loaded) and
takes it out when it is freed (unloaded), so ``metered_rss`` behaves like a process's RSS
would for models of those sizes; the pool measures it exactly as it measures the real RSS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from serving_fakes import write_model

from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.options import ModelSource, ServerOptions
from modelyard.serving.pool.pool import ModelPool, PoolModel

METER: dict[int, int] = {}
_METER_LOCK = threading.Lock()


class MeteredModel:
    """Answers row sums plus ``offset``; holds ``size`` metered bytes while loaded."""

    def __init__(self, size: int, offset: float = 0.0) -> None:
        self.size = size
        self.offset = offset

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        with _METER_LOCK:
            METER[id(self)] = self.size

    def __del__(self) -> None:
        with _METER_LOCK:
            METER.pop(id(self), None)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=float).sum(axis=1) + self.offset


def metered_rss() -> int:
    with _METER_LOCK:
        return sum(METER.values())


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 1.0) -> float:
        self.now += seconds
        return self.now


def model_dirs(root: Path, sizes: dict[str, int]) -> dict[str, Path]:
    """One metered model folder per name."""
    return {name: write_model(root / name, MeteredModel(size)) for name, size in sizes.items()}


def make_pool(
    dirs: dict[str, Path],
    budget: int,
    clock: ManualClock,
    *,
    pinned: frozenset[str] = frozenset(),
    timeout_s: float = 30.0,
    resolve: Callable[[str], ModelSource] | None = None,
    options: ServerOptions | None = None,
) -> ModelPool:
    """A pool of the metered models in ``dirs`` measured by ``metered_rss``."""

    def from_dirs(name: str) -> ModelSource:
        return ModelSource(name, "1", dirs[name], warmup_requests=1)

    return ModelPool(
        "test",
        [PoolModel(name, options or ServerOptions(), name in pinned) for name in dirs],
        budget,
        timeout_s,
        resolve or from_dirs,
        ThreadPoolExecutor(2),
        ServingMetrics(),
        rss=metered_rss,
        release=lambda: None,
        clock=clock,
    )
