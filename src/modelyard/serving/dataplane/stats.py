"""Per-version statistics over a recent window, for the admin stats endpoint and rollouts.

Prometheus holds the long-term series; this keeps the last ``window`` seconds of request
outcomes in memory so that the local rollout controller can read error rate, latency P50/P90
and shadow divergence of each version with one HTTP call.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class VersionStats:
    """Counters since load plus a sliding window of (time, latency, ok) samples."""

    window: float = 60.0
    requests: int = 0
    errors: int = 0
    shadow_compared: int = 0
    shadow_diverged: int = 0
    shadow_errors: int = 0
    _samples: deque[tuple[float, float, bool]] = field(default_factory=deque)

    def record(self, latency: float, ok: bool) -> None:
        now = time.monotonic()
        self.requests += 1
        self.errors += 0 if ok else 1
        self._samples.append((now, latency, ok))
        self._prune(now)

    def _prune(self, now: float) -> None:
        horizon = now - self.window
        while self._samples and self._samples[0][0] < horizon:
            self._samples.popleft()

    def snapshot(self) -> dict[str, Any]:
        """Totals and the window's request count, error rate and latency percentiles (ms)."""
        self._prune(time.monotonic())
        latencies = np.array([s[1] for s in self._samples], dtype=float)
        errors = sum(1 for s in self._samples if not s[2])
        count = len(self._samples)
        p50, p90 = (
            (float(np.percentile(latencies, 50) * 1000), float(np.percentile(latencies, 90) * 1000))
            if count
            else (None, None)
        )
        return {
            "requests_total": self.requests,
            "errors_total": self.errors,
            "window_s": self.window,
            "window_requests": count,
            "window_errors": errors,
            "error_rate": errors / count if count else 0.0,
            "latency_p50_ms": p50,
            "latency_p90_ms": p90,
            "shadow_compared": self.shadow_compared,
            "shadow_diverged": self.shadow_diverged,
            "shadow_errors": self.shadow_errors,
        }
