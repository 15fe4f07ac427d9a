"""Helpers of the rollout tests: a served workspace, a steady client loop, waiting for outcomes."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import mlflow.sklearn
import numpy as np
from sklearn.linear_model import LogisticRegression

from modelyard.backends.local.operations import rollout_view
from modelyard.config import Workspace
from modelyard.registry import Registry
from modelyard.rollout import RolloutPlan, RolloutState, Thresholds
from waiting import wait_until

MODEL = "ctr"

FAST = RolloutPlan(
    steps=(20.0, 50.0, 100.0),
    interval=1.5,
    shadow=2.0,
    thresholds=Thresholds(
        max_error_rate=0.01, max_latency_p90_ratio=20.0, max_divergence=0.05, min_requests=10
    ),
    max_inconclusive=3,
    load_timeout=60.0,
)
"""Short steps, loose latency (two busy cores), few requests needed."""


def register_base(workspace: Workspace, tmp: Path) -> int:
    """Register a small logistic regression (with an input example) as a new version."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 8))
    model = LogisticRegression().fit(X, (X[:, 0] + X[:, 1] > 0).astype(int))
    folder = tmp / "base-model"
    mlflow.sklearn.save_model(model, folder, input_example=X[:2], pip_requirements=["scikit-learn"])
    registry = Registry.for_workspace(workspace)
    tracking = registry.tracking
    run_id = tracking.start_run(tracking.experiment_id(MODEL), {}, {})
    return registry.register(workspace.model(MODEL), run_id, str(folder), None, {}).version


@dataclass
class ClientLoop:
    """Sends v1 predict requests one after another until stopped (bounded in count and time)."""

    url: str
    max_requests: int = 60_000
    max_seconds: float = 90.0
    statuses: Counter[int] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _answered: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> ClientLoop:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        rows = np.random.default_rng(1).normal(size=(64, 8)).round(3).tolist()
        ended = time.monotonic() + self.max_seconds
        with httpx.Client(base_url=self.url, timeout=10.0) as client:
            for index in range(self.max_requests):
                if self._stop.is_set() or time.monotonic() > ended:
                    return
                try:
                    reply = client.post(
                        f"/v1/models/{MODEL}:predict", json={"instances": [rows[index % 64]]}
                    )
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    time.sleep(0.05)  # the server is down: do not spin
                    continue
                with self._answered:
                    self.statuses[reply.status_code] += 1
                    if reply.status_code == 200:
                        self.versions[reply.headers.get("x-model-version", "?")] += 1
                    else:
                        self.failures.append(f"{reply.status_code}: {reply.text[:200]}")
                    self._answered.notify_all()

    def wait_answers(self, version: str, more: int, timeout: float = 30.0) -> None:
        """Wait until ``version`` has answered ``more`` further requests (the event, not a
        sleep); AssertionError after ``timeout`` seconds."""
        with self._answered:
            target = self.versions[version] + more
            met = self._answered.wait_for(lambda: self.versions[version] >= target, timeout)
        assert met, f"version {version} answered {self.versions[version]} of {target} requests"

    def stop(self) -> ClientLoop:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        return self

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + len([f for f in self.failures if not f[:3].isdigit()])


def wait_rollout(
    workspace: Workspace, revision: int | None, timeout: float = 90.0, phase: str | None = None
) -> RolloutState:
    """Wait until the rollout of ``revision`` ends (or reaches ``phase``)."""
    last: list[RolloutState | None] = [None]

    def ended() -> RolloutState | None:
        view = rollout_view(workspace, MODEL)
        state = last[0] = view.state
        ours = state is not None and view.revision == revision
        if ours and state is not None and (state.terminal or state.phase.value == phase):
            return state
        return None

    return wait_until(
        ended, lambda: f"the rollout of revision {revision} to end; last: {last[0]}", timeout
    )
