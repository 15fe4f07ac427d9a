"""Fixtures of the capacity tests: a workspace with a recorded usage history."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

Recorder = Callable[[str, list[tuple[float, float, int]]], None]


@pytest.fixture
def record_usage(workspace_dir: Path) -> Recorder:
    """Record (at, cpu cores, memory bytes) samples of a subject in the workspace's state store."""
    from modelyard.backends.local.state import StateStore  # the tests' one import of the store
    from modelyard.observe.usage import UsageSample

    store = StateStore.for_workspace(workspace_dir)

    def record(subject: str, samples: list[tuple[float, float, int]]) -> None:
        store.record_usage_many([UsageSample(subject, at, cpu, mem) for at, cpu, mem in samples])

    return record


@pytest.fixture
def recent_hours() -> Callable[[float], list[float]]:
    """Timestamps every 10 s over the last ``hours`` hours (a supervisor's cadence)."""

    def stamps(hours: float) -> list[float]:
        now = time.time()
        count = int(hours * 360)
        return [now - (count - i) * 10.0 for i in range(count)]

    return stamps
