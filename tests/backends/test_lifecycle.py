"""One lifecycle, two backends: deploy, rollout commands, promote, rollback, status, history.

The same test runs against the local backend (a real supervisor and model server) and the
Kubernetes backend (the in-memory cluster), through the Backend seam. On both, the registry's
``production`` alias follows the version that takes all traffic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from rollout_harness import MODEL, register_base

from modelyard.backends import Backend, backend_for
from modelyard.config import Workspace, init_workspace, load_workspace
from modelyard.errors import NotFound
from modelyard.faults.models import register_variant
from modelyard.k8s import InMemoryCluster


@dataclass
class Lifecycle:
    workspace: Workspace
    backend: Backend
    settle: Callable[[], None]
    """Wait until a new rollout can be steered (the local server loaded the version)."""


def _production(workspace: Workspace, expected: str, timeout_s: float = 60.0) -> str:
    """The version the registry's ``production`` alias names, once it is ``expected``.

    The steering commands do not import MLflow: they record the alias move, and the
    supervisor (or a helper process) applies it, so the alias follows within a loop turn.
    Polled with a bounded deadline; returns what it last saw."""
    uri = workspace.tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    deadline = time.monotonic() + timeout_s
    while True:
        seen = str(client.get_model_version_by_alias(MODEL, "production").version)
        if seen == expected or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def _fresh(tmp: Path) -> Workspace:
    root = tmp / "ws"
    init_workspace(root)
    workspace = load_workspace(root)
    register_base(workspace, tmp)
    return workspace


@pytest.fixture(scope="module", params=["local", "kubernetes"])
def lifecycle(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lifecycle]:
    workspace = _fresh(tmp_path_factory.mktemp(f"lifecycle-{request.param}"))
    if request.param == "kubernetes":
        cluster = InMemoryCluster().with_credentials(workspace.settings.kubernetes.namespace)
        backend = backend_for(workspace, "kubernetes", cluster=cluster)
        yield Lifecycle(workspace, backend, lambda: None)
        return
    backend = backend_for(workspace, "local")

    def settle() -> None:  # shadow (2 min in the example's deploy.yaml) is steerable
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status = backend.status(MODEL)
            if status.phase in ("shadow", "canary"):
                return
            time.sleep(0.1)
        raise AssertionError(f"the rollout never reached shadow: {backend.status(MODEL)}")

    try:
        yield Lifecycle(workspace, backend, settle)
    finally:
        assert backend.down([MODEL]) == [MODEL]


def test_deploy_rollout_promote_rollback_status_history(lifecycle: Lifecycle) -> None:
    ws, backend = lifecycle.workspace, lifecycle.backend
    first = backend.deploy(MODEL, 1, by="test")
    assert first.action == "started"
    assert backend.status(MODEL).serving == "1"
    assert _production(ws, "1") == "1"

    second = register_variant(ws, MODEL, 1, "clone")
    shipped = backend.deploy(MODEL, second, by="test")
    assert shipped.action == "rollout"
    lifecycle.settle()
    status = backend.status(MODEL)
    assert (status.serving, status.finished) == ("1", False)
    assert status.rollout_version == str(second)

    assert backend.rollout(MODEL, "pause", by="test").paused is True
    assert backend.rollout(MODEL, "resume", by="test").paused is False
    promoted = backend.rollout(MODEL, "promote", by="test")
    assert (promoted.serving, promoted.finished) == (str(second), True)
    assert _production(ws, str(second)) == str(second)

    back = backend.rollback(MODEL, by="test")
    assert (back.version, back.during_rollout) == ("1", False)
    assert backend.status(MODEL).serving == "1"
    assert _production(ws, "1") == "1"

    third = register_variant(ws, MODEL, 1, "clone")
    assert backend.deploy(MODEL, third, by="test").action == "rollout"
    lifecycle.settle()
    aborted = backend.rollout(MODEL, "abort", by="test")
    assert (aborted.serving, aborted.finished) == ("1", True)
    assert _production(ws, "1") == "1"

    history = backend.history(MODEL)
    assert [(r.version, r.outcome) for r in history] == [
        ("1", "superseded"),
        (str(second), "rolled_back"),
        ("1", "active"),
        (str(third), "aborted"),
    ]
    with pytest.raises(NotFound):
        backend.rollout(MODEL, "promote", by="test")
