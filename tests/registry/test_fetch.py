"""Registry: versions resolve by number or alias, and fetches verify the checksum."""

from __future__ import annotations

from pathlib import Path

import mlflow.sklearn
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from modelyard.config import Workspace
from modelyard.errors import IntegrityError, NotFound
from modelyard.registry import Registry, tree_sha256


def _register(workspace: Workspace, tmp_path: Path, seed: int) -> tuple[Registry, int]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 8))
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    folder = tmp_path / f"artifacts-{seed}"
    mlflow.sklearn.save_model(model, folder, pip_requirements=["scikit-learn"])
    registry = Registry.for_workspace(workspace)
    tracking = registry.tracking
    run_id = tracking.start_run(tracking.experiment_id("ctr"), {}, {})
    version = registry.register(workspace.model("ctr"), run_id, str(folder), None, {})
    return registry, version.version


def test_fetch_verifies_and_caches(workspace: Workspace, tmp_path: Path) -> None:
    registry, number = _register(workspace, tmp_path, 1)
    fetched = registry.fetch("ctr", number)
    assert fetched.version.version == 1
    assert tree_sha256(fetched.path) == fetched.version.sha256
    assert (fetched.path / "MLmodel").is_file()
    assert fetched.path.is_relative_to(workspace.state_dir)


def test_newest_and_alias(workspace: Workspace, tmp_path: Path) -> None:
    _register(workspace, tmp_path, 1)
    registry, second = _register(workspace, tmp_path, 2)
    assert registry.resolve("ctr").version == second == 2
    registry.set_alias("ctr", "champion", 1)
    assert registry.fetch("ctr", alias="champion").version.version == 1


def test_tampered_artifact_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    registry, number = _register(workspace, tmp_path, 1)
    artifact = next((tmp_path / "artifacts-1").glob("model.*"))
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    with pytest.raises(IntegrityError, match="do not match their checksum"):
        registry.fetch("ctr", number)
    assert not list((workspace.state_dir / "cache" / "models" / "ctr").glob("1-*"))


def test_tampered_cache_is_fetched_again(workspace: Workspace, tmp_path: Path) -> None:
    registry, number = _register(workspace, tmp_path, 1)
    first = registry.fetch("ctr", number)
    (first.path / "MLmodel").write_text("flavors: {}\n")
    again = registry.fetch("ctr", number)
    assert tree_sha256(again.path) == again.version.sha256


@pytest.mark.parametrize(("version", "alias"), [(7, None), (None, "nope")])
def test_missing_version_or_alias(
    workspace: Workspace, tmp_path: Path, version: int | None, alias: str | None
) -> None:
    registry, _ = _register(workspace, tmp_path, 1)
    with pytest.raises(NotFound):
        registry.fetch("ctr", version, alias)


def test_unregistered_model(workspace: Workspace) -> None:
    with pytest.raises(NotFound, match="no registered version"):
        Registry.for_workspace(workspace).resolve("ctr")


def test_a_symlink_in_the_artifact_folder_is_refused_at_registration(
    workspace: Workspace, tmp_path: Path
) -> None:
    from modelyard.registry.checksum import ArtifactSymlink

    folder = tmp_path / "artifacts-1"
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "passwd").write_text("root:x:0:0\n")
    registry, _ = _register(workspace, tmp_path, 1)
    (folder / "extra").symlink_to(tmp_path / "seed" / "passwd")
    tracking = registry.tracking
    run_id = tracking.start_run(tracking.experiment_id("ctr"), {}, {})
    with pytest.raises(ArtifactSymlink, match="is a symbolic link inside the artifact folder"):
        registry.register(workspace.model("ctr"), run_id, str(folder), None, {})
    assert [v.version for v in registry.versions("ctr")] == [1]


def test_a_symlink_added_after_registration_is_refused_at_fetch(
    workspace: Workspace, tmp_path: Path
) -> None:
    from modelyard.registry.checksum import ArtifactSymlink

    registry, number = _register(workspace, tmp_path, 1)
    (tmp_path / "artifacts-1" / "sub").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ArtifactSymlink) as caught:
        registry.fetch("ctr", number)
    assert isinstance(caught.value, IntegrityError)
    assert "sub" in str(caught.value)
