"""One lifecycle, every backend: deploy, rollout commands, promote, rollback, status, history.

The same test runs against the local backend (a real supervisor and model server), the
Kubernetes backend (the in-memory cluster) and the shipped fake (``InMemoryBackend``), through
the Backend seam: the fake is held to the real ones' contract, not to itself. On the real
ones the registry's ``production`` alias follows the version that takes all traffic; the fake
keeps that alias in a dict.
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
from modelyard.backends.fake import InMemoryBackend
from modelyard.config import Workspace, init_workspace, load_workspace
from modelyard.errors import Conflict, NotFound
from modelyard.faults.models import register_variant
from modelyard.k8s import InMemoryCluster


@dataclass
class Lifecycle:
    backend: Backend
    new_version: Callable[[], int]
    """Register another version of the model; its number."""
    production: Callable[[str], str]
    """The version the ``production`` alias names, once it is the one given (or at a deadline)."""
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


@pytest.fixture(scope="module", params=["local", "kubernetes", "fake"])
def lifecycle(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lifecycle]:
    if request.param == "fake":
        fake = InMemoryBackend(models={MODEL})
        numbers = iter(range(2, 100))
        yield Lifecycle(fake, lambda: next(numbers), lambda _: fake.production[MODEL], lambda: None)
        return
    workspace = _fresh(tmp_path_factory.mktemp(f"lifecycle-{request.param}"))

    def new_version() -> int:
        return register_variant(workspace, MODEL, 1, "clone")

    def production(expected: str) -> str:
        return _production(workspace, expected)

    if request.param == "kubernetes":
        cluster = InMemoryCluster().with_credentials(workspace.settings.kubernetes.namespace)
        backend = backend_for(workspace, "kubernetes", cluster=cluster)
        yield Lifecycle(backend, new_version, production, lambda: None)
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
        yield Lifecycle(backend, new_version, production, settle)
    finally:
        assert backend.down([MODEL]) == [MODEL]


def test_deploy_rollout_promote_rollback_status_history(lifecycle: Lifecycle) -> None:
    backend, production = lifecycle.backend, lifecycle.production
    with pytest.raises(NotFound):
        backend.status("no-such-model")
    first = backend.deploy(MODEL, 1, by="test")
    assert first.action == "started"
    assert backend.status(MODEL).serving == "1"
    assert production("1") == "1"
    assert backend.deploy(MODEL, 1, by="test").action == "unchanged"

    second = lifecycle.new_version()
    shipped = backend.deploy(MODEL, second, by="test")
    assert shipped.action == "rollout"
    lifecycle.settle()
    status = backend.status(MODEL)
    assert (status.serving, status.finished) == ("1", False)
    assert status.rollout_version == str(second)
    for version in (1, second):  # one rollout at a time, whichever version is asked for
        with pytest.raises(Conflict):
            backend.deploy(MODEL, version, by="test")

    assert backend.rollout(MODEL, "pause", by="test").paused is True
    assert backend.rollout(MODEL, "resume", by="test").paused is False
    promoted = backend.rollout(MODEL, "promote", by="test")
    assert (promoted.serving, promoted.finished) == (str(second), True)
    assert production(str(second)) == str(second)

    back = backend.rollback(MODEL, by="test")
    assert (back.version, back.during_rollout) == ("1", False)
    assert backend.status(MODEL).serving == "1"
    assert production("1") == "1"
    with pytest.raises(NotFound):  # back to 1 again would go from a version to itself
        backend.rollback(MODEL, by="test")

    third = lifecycle.new_version()
    assert backend.deploy(MODEL, third, by="test").action == "rollout"
    lifecycle.settle()
    aborted = backend.rollout(MODEL, "abort", by="test")
    assert (aborted.serving, aborted.finished) == ("1", True)
    assert production("1") == "1"

    history = backend.history(MODEL)
    assert [(r.revision, r.version, r.outcome) for r in history] == [
        (1, "1", "superseded"),
        (2, str(second), "rolled_back"),
        (3, "1", "active"),
        (4, str(third), "aborted"),
    ]
    assert {r.created_by for r in history} == {"test"}
    with pytest.raises(NotFound):
        backend.rollout(MODEL, "promote", by="test")
