"""Fixtures of the evaluation tests: copies of the session's trained workspace (versions 1
and 2 of ``ctr``) plus a deliberately poor version 3, so that no test retrains."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from modelyard.config import Workspace, load_workspace
from modelyard.registry import Registry


def _register_poor_version(root: Path) -> int:
    """A model fitted on labels unrelated to the features: no better than the base rate."""
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    ws = load_workspace(root)
    registry = Registry.for_workspace(ws)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 8))
    model = LogisticRegression().fit(features, rng.random(400) < 0.15)
    folder = root / "poor-model"
    mlflow.sklearn.save_model(
        model, str(folder), input_example=features[:2], pip_requirements=["scikit-learn"]
    )
    tracking = registry.tracking
    run_id = tracking.start_run(tracking.experiment_id("ctr"), {}, {"modelyard.model": "ctr"})
    tracking.finish_run(run_id, ok=True)
    return registry.register(ws.model("ctr"), run_id, str(folder), None, {}).version


def _copy_databases(source: Path, target: Path) -> None:
    """Each SQLite database through SQLite's backup API: a file copy of a live WAL database
    that other workers write to can be torn ("database disk image is malformed")."""
    for db in source.rglob("*.db"):
        if {"cache", "run", "logs", "predictions"} & set(db.relative_to(source).parts):
            continue
        copy = target / db.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(db) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        dst.close()
        src.close()


def _share_artifacts(copy: Path, original: Path) -> None:
    """A copied workspace keeps writing next to the original's artifacts, on purpose (the
    tracking database it copied records them there; see ArtifactStoreMoved)."""
    settings = copy / "modelyard.yaml"
    store = original / ".modelyard" / "artifacts"
    settings.write_text(settings.read_text() + f"artifact_store: {store}\n")


@pytest.fixture(scope="session")
def eval_base_dir(trained_workspace_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained workspace copied (its artifacts stay where they are, read-only), with a
    poor version 3 added."""
    root = tmp_path_factory.mktemp("eval") / "ws"
    # what servers on the shared workspace may be writing meanwhile is left out
    volatile = shutil.ignore_patterns(
        "cache", "run", "logs", "predictions", "*.tmp", "*.lock", "*.db", "*.db-wal", "*.db-shm"
    )
    shutil.copytree(trained_workspace_dir, root, ignore=volatile)
    _copy_databases(trained_workspace_dir, root)
    _share_artifacts(root, trained_workspace_dir)
    assert _register_poor_version(root) == 3
    return root


@pytest.fixture
def eval_dir(eval_base_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the evaluation workspace, for tests that change it."""
    root = tmp_path / "ws"
    shutil.copytree(eval_base_dir, root, ignore=shutil.ignore_patterns("cache"))
    return root


@pytest.fixture
def eval_ws(eval_dir: Path) -> Workspace:
    return load_workspace(eval_dir)
