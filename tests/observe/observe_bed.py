"""What the observability tests share besides fixtures: the test bed's constants, the
binaries' lookup (skip, or fail under CI=true), the live stack's query helpers.

A module of its own, not conftest.py, so that test modules can import it by a name no other
test folder uses."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest
from serving_harness import Running

from modelyard.observe import prometheus
from waiting import wait_until

SCRAPE_INTERVAL_S = 1.0
RATE_WINDOW = "15s"
"""What ``$__rate_interval`` stands for here (15 scrapes)."""
DEADLINE_S = 90.0
STABLE_HASH, CANARY_HASH = "5d8f7c9b4", "7f6e5d4c3"
ADMIN_TOKEN = "observe-test"


class PickyModel:
    """A faulty version: sums the row, but raises on rows that start with a negative value."""

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if (X[:, 0] < 0).any():
            raise RuntimeError("injected failure on a negative first feature")
        return X.sum(axis=1)


def prometheus_binary() -> str:
    found = shutil.which(prometheus.BINARY)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("prometheus is not installed; .ci/run installs Debian's package")
        pytest.skip("needs Debian's prometheus package (apt-get install -y prometheus)")
    return found


def promtool_binary() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is not installed; .ci/run installs Debian's prometheus")
        pytest.skip("needs promtool from Debian's prometheus package")
    return found


@dataclass
class Stack:
    prom: prometheus.PrometheusServer
    stable: Running
    canary: Running
    namespace: str

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.prom.query(expr)

    def wait_for(
        self, expr: str, ok: Callable[[list[dict[str, Any]]], bool] = bool
    ) -> list[dict[str, Any]]:
        """Poll ``expr`` until ``ok(result)``; fail at a bounded deadline."""
        last: list[list[dict[str, Any]]] = [[]]

        def answered() -> tuple[list[dict[str, Any]]] | None:
            last[0] = self.query(expr)
            # a tuple, truthy even when ok() accepts an empty result
            return (last[0],) if ok(last[0]) else None

        (result,) = wait_until(
            answered,
            lambda: f"an expected result for {expr!r}; last: {last[0]}",
            timeout_s=DEADLINE_S,
            every_s=SCRAPE_INTERVAL_S / 2,
        )
        return result


def post_feedback(server: Running, outcomes: list[dict[str, Any]]) -> httpx.Response:
    with server.client() as client:
        return client.post("/v2/models/ctr/feedback", json={"outcomes": outcomes})
