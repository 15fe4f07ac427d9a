"""A copied workspace never writes into the original (issue 10, row 9).

Paths a workspace names (tracking database, artifact store) resolve against its own root; the
one absolute path MLflow keeps (an experiment's artifact location) is checked against the
workspace's store, and a copy that still names the original's folder is refused with an error
that says where the artifacts would have gone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelyard.config import init_workspace, load_workspace
from modelyard.errors import ConfigError
from modelyard.tracking.mlflow_adapter import ArtifactStoreMoved, Tracking


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _tracking(root: Path) -> Tracking:
    ws = load_workspace(root)
    return Tracking(ws.tracking_uri, ws.artifact_store)


def test_paths_resolve_against_the_copy(tmp_path: Path) -> None:
    original, copy = tmp_path / "a", tmp_path / "b"
    init_workspace(original)
    shutil.copytree(original, copy, symlinks=True)
    ws = load_workspace(copy)
    assert ws.tracking_uri == f"sqlite:///{copy.resolve()}/.modelyard/mlflow.db"
    assert ws.artifact_store == str(copy.resolve() / ".modelyard" / "artifacts")


def test_a_copy_with_the_originals_history_refuses_to_write_into_the_original(
    tmp_path: Path,
) -> None:
    original, copy = tmp_path / "a", tmp_path / "b"
    init_workspace(original)
    tracking = _tracking(original)
    experiment = tracking.experiment_id("ctr")
    tracking.start_run(experiment, {"C": 1.0}, {})
    shutil.copytree(original, copy, symlinks=True)  # cp -a, .modelyard/ and all
    artifacts = original / ".modelyard" / "artifacts"
    before = _tree(artifacts) if artifacts.exists() else []

    with pytest.raises(ArtifactStoreMoved) as caught:
        _tracking(copy).experiment_id("ctr")
    message = str(caught.value)
    assert isinstance(caught.value, ConfigError)  # exit code 2: fix the input
    assert f"keeps its artifacts in {original.resolve()}/.modelyard/artifacts/ctr" in message
    assert f"outside this workspace's artifact store {copy.resolve()}" in message
    assert (_tree(artifacts) if artifacts.exists() else []) == before
    # The original itself still trains as before.
    assert _tracking(original).experiment_id("ctr") == experiment


def test_a_fresh_copy_writes_its_own_artifacts(tmp_path: Path) -> None:
    original, copy = tmp_path / "a", tmp_path / "b"
    init_workspace(original)
    shutil.copytree(original, copy, symlinks=True)
    tracking = _tracking(copy)
    experiment = tracking.experiment_id("ctr")
    note = tmp_path / "note.txt"
    note.write_text("hello")
    run = tracking.start_run(experiment, {}, {})
    tracking.log_artifact(run, note, "notes")
    assert (copy / ".modelyard" / "artifacts" / "ctr").is_dir()
    assert not (original / ".modelyard").exists()
