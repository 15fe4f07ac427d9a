"""The Python API mirrors the CLI (issue 20): the lifecycle from a notebook or an Airflow task,
with the backends' typed records as results and the same errors, on a real local backend."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import modelyard
from modelyard.backends import DeploymentEvent, DeployResult, Revision, RolloutStatus
from modelyard.backends.model_logs import ModelLogs
from modelyard.backends.tuning import TuneAdvice
from modelyard.evaluation import Evaluation
from waiting import wait_until


@pytest.fixture
def root(trained_workspace_dir: Path, tmp_path: Path) -> Path:
    """A copy of the trained workspace (its artifacts stay with the original, read-only)."""
    copy = tmp_path / "ws"
    volatile = shutil.ignore_patterns("cache", "run", "predictions", "*.tmp", "*.lock")
    shutil.copytree(trained_workspace_dir, copy, ignore=volatile)
    store = trained_workspace_dir / ".modelyard" / "artifacts"
    (copy / "modelyard.yaml").write_text(
        (copy / "modelyard.yaml").read_text() + f"artifact_store: {store}\n"
    )
    return copy


def test_the_lifecycle_from_python(root: Path) -> None:
    first = modelyard.deploy("ctr", 1, workspace=root, by="notebook")
    assert isinstance(first, DeployResult)
    assert first.action == "started"
    try:
        wait_until(lambda: modelyard.status("ctr", workspace=root).serving == "1", "version 1")
        second = modelyard.deploy("ctr", 2, workspace=root, by="notebook")
        assert second.action == "rollout"
        wait_until(
            lambda: modelyard.status("ctr", workspace=root).phase in ("shadow", "canary"),
            "the rollout to be steerable",
        )
        paused = modelyard.pause("ctr", workspace=root, by="notebook")
        assert isinstance(paused, RolloutStatus)
        assert paused.paused
        assert not modelyard.resume("ctr", workspace=root, by="notebook").paused
        promoted = modelyard.promote("ctr", workspace=root, by="notebook")
        assert promoted.rollout_version == "2"
        wait_until(lambda: modelyard.status("ctr", workspace=root).serving == "2", "version 2")
        back = modelyard.rollback("ctr", workspace=root, by="notebook")
        assert back.version == "1"
        revisions = modelyard.history("ctr", workspace=root)
        assert all(isinstance(r, Revision) for r in revisions)
        assert [r.version for r in revisions][-1] == "1"
        events = modelyard.events("ctr", workspace=root)
        assert all(isinstance(e, DeploymentEvent) for e in events)
        assert any(e.kind == "server_started" for e in events)
        served = modelyard.logs("ctr", server=True, workspace=root)
        assert isinstance(served, ModelLogs)
        assert served.logs[0].source == "server of ctr"
        (advice,) = modelyard.tune(["ctr"], workspace=root)
        assert isinstance(advice, TuneAdvice)
        assert advice.row["current"]["memory"] == "512Mi"
    finally:
        from modelyard.backends import backend_for

        backend_for(modelyard.load_workspace(root), "local").down(["ctr"])


def test_evaluate_and_run_logs_from_python(root: Path) -> None:
    result = modelyard.evaluate("ctr", 1, workspace=root)
    assert isinstance(result, Evaluation)
    assert 0.5 < result.metrics["auc"] <= 1.0
    found = modelyard.logs("ctr", version=1, workspace=root)
    assert "auc=" in found.logs[0].text


def test_the_same_errors_as_the_cli(root: Path) -> None:
    with pytest.raises(modelyard.NotFound):
        modelyard.status("nope", workspace=root)
    with pytest.raises(modelyard.NotFound):
        modelyard.sweep("nope", workspace=root)
    with pytest.raises(modelyard.ConfigError):
        modelyard.logs("ctr", run_id="x", server=True, workspace=root)
    with pytest.raises(modelyard.ConfigError):
        modelyard.deploy("ctr", 1, workspace=root, dry_run=True)  # a local deploy is instant
