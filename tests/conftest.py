"""Fixtures shared by every test: fresh workspaces, and one trained workspace per session.

MLflow migrates a new SQLite database through every Alembic revision (seconds); the suite
migrates one template per session and copies it into each workspace instead.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from image_bed import BuiltImage, debian_base, podman, sklearn_image  # noqa: F401 - fixtures
from modelyard.config import Workspace, init_workspace, load_workspace
from registry_bed import RemoteRegistry
from registry_bed import remote_registry as start_remote_registry

# The files that take longest (tens of seconds each: real trainings, supervisors, Prometheus),
# run first: the xdist workers take files in collection order, and a long file taken last
# leaves the other workers idle at the end. Measured with --durations=0; order matters only
# for the suite's wall time, never for a result.
SLOW_FILES = (
    # the stress stage (two workers, one file each)
    "workflows/test_concurrent_training.py",
    "workflows/test_sweep_e2e.py",
    # the fast stage, longest first (wall seconds summed over a file's tests)
    "console/test_up_down.py",
    "workflows/test_training.py",
    "backends/test_start_faults.py",
    "backends/test_rollout_e2e.py",
    "evaluation/test_evaluate.py",
    "registry/test_remote_registry.py",
    "backends/test_lifecycle.py",
    "backends/test_serve_e2e.py",
    "cli/test_notebook_cli.py",
    "console/test_console_http.py",
    "observe/test_promql_live.py",
    "k8s/test_checkov.py",
    "evaluation/test_train_deploy_gate.py",
    "evaluation/test_dataset_build.py",
    "evaluation/test_dataset_from_topics.py",
    "serving/test_schema_fuzz.py",
    "workflows/test_notebook_mlflow.py",
    "console/test_console_browser.py",
    "serving/test_runtime_plugin.py",
    "backends/test_logs_events.py",
    "pipelines/test_pipeline_runs.py",
    "backends/test_python_api.py",
    "serving/test_pool_cli.py",
    "workflows/test_dead_parent.py",
)


def _slow_rank(item: pytest.Item) -> int:
    path = item.path.as_posix()
    return next((i for i, f in enumerate(SLOW_FILES) if path.endswith(f)), len(SLOW_FILES))


# The container stage (`scripts/check containers`): tests that build images with podman or run
# pods in podman. They are found by the fixtures they use (tests/image_bed.py, also through
# other fixtures: `fixturenames` is the closure) or by their folder, so that a new test lands in
# the right stage by itself; the fast stage is everything else (`-m "not containers"`).
CONTAINER_FIXTURES = frozenset({"podman", "debian_base", "sklearn_image"})
CONTAINER_FOLDERS = ("tests/pods/",)


def _needs_containers(item: pytest.Item) -> bool:
    path = item.path.as_posix()
    used = CONTAINER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    return bool(used) or any(f"/{folder}" in path for folder in CONTAINER_FOLDERS)


# tryfirst: the marker must be on the items before `-m` deselects by it
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _needs_containers(item):
            item.add_marker(pytest.mark.containers)
    items.sort(key=_slow_rank)  # stable: within a file, and among the others, as collected
    if os.environ.get("KUBECONFIG"):
        return
    skip = pytest.mark.skip(reason="needs a Kubernetes cluster: set KUBECONFIG")
    for item in items:
        if "cluster" in item.keywords:
            item.add_marker(skip)


# Under CI=true a real-component test that would skip fails instead: a skip on a fresh machine
# is a hole in the test command. Only these reasons may skip there, each for a reason no
# install step of the repository can remove.
SKIPS_ALLOWED_IN_CI = (
    "needs a Kubernetes cluster",  # no API server runs here; the tests run with KUBECONFIG
    "could not import 'torch'",  # PyPI's Linux torch is a CUDA build of several GB
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not os.environ.get("CI") or not report.skipped or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
    if not any(allowed in reason for allowed in SKIPS_ALLOWED_IN_CI):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every real component must run: {reason}"


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow database migrated to the installed version's head, with no experiments of
    modelyard's (each experiment gets its own artifact location when first used)."""
    from modelyard.tracking import Tracking

    root = tmp_path_factory.mktemp("mlflow-template")
    db = root / "mlflow.db"
    Tracking(f"sqlite:///{db}", str(root / "artifacts")).client.search_experiments()
    return db


def with_migrated_db(root: Path, template: Path) -> Path:
    """Give the workspace at ``root`` a copy of the migrated template as its MLflow database."""
    uri = load_workspace(root).tracking_uri
    if uri.startswith("sqlite:///"):
        target = Path(uri.removeprefix("sqlite:///"))
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, target)
    return root


@pytest.fixture
def workspace_dir(tmp_path: Path, mlflow_template: Path) -> Path:
    """A fresh workspace made by `init`, with the example model `ctr`."""
    root = tmp_path / "ws"
    init_workspace(root)
    return with_migrated_db(root, mlflow_template)


@pytest.fixture
def workspace(workspace_dir: Path) -> Workspace:
    return load_workspace(workspace_dir)


@pytest.fixture(scope="session")
def trained_workspace_dir(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Path:
    """A workspace in which `ctr` was trained twice (versions 1 and 2, C=1.0 then C=0.01).
    Tests must not change it. Under xdist the workers of one run share it: the first to need
    it trains it while holding a lock, the others wait for it (two trainings, not six)."""
    from modelyard.backends.local.backend import LocalBackend
    from modelyard.workflows.serve import admin_token

    def train(root: Path) -> Path:
        init_workspace(root)
        backend = LocalBackend(load_workspace(with_migrated_db(root, mlflow_template)))
        backend.train("ctr", ["n_samples=4000"])
        backend.train("ctr", ["n_samples=4000", "C=0.01"])
        admin_token(backend.workspace)  # made now, not by a server while a worker copies it
        return root

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return train(tmp_path_factory.mktemp("trained") / "ws")
    shared = tmp_path_factory.getbasetemp().parent  # this run's, common to its workers
    root, done = shared / "trained" / "ws", shared / "trained.done"
    with (shared / "trained.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(root.parent, ignore_errors=True)  # a worker that died half-way
            train(root)
            done.touch()
    return root


@pytest.fixture(scope="session")
def remote_registry(
    tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path
) -> Iterator[RemoteRegistry]:
    """A real MLflow tracking server and a real SeaweedFS S3 endpoint on loopback, for the
    session: their URLs, the bucket, and a credentials file (see tests/registry_bed.py)."""
    with start_remote_registry(tmp_path_factory.mktemp("remote-registry"), mlflow_template) as bed:
        yield bed
