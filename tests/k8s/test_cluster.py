"""Against a real cluster (only when KUBECONFIG is set): apply, prune and a training Job.

Prerequisites: Argo Rollouts, Istio and Prometheus Operator CRDs installed, the workspace's
namespace present with the credentials secret, and the runtime image pullable (see
docs/kubernetes.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from zoo_versions import pins

from modelyard.config import Workspace, load_workspace
from modelyard.k8s import apply_workspace, run_training_job, workspace_plan

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster() -> object:
    from modelyard.k8s.kube import KubeCluster

    return KubeCluster()


def test_apply_is_idempotent_and_prunes(cluster: object, zoo: Workspace, zoo_dir: Path) -> None:
    versions = pins(zoo.models)
    first = apply_workspace(cluster, zoo, versions=versions)  # type: ignore[arg-type]
    assert first.creates or first.unchanged
    assert workspace_plan(cluster, zoo, versions=versions).empty  # type: ignore[arg-type]
    shutil.rmtree(zoo_dir / "models" / "busy")
    smaller = load_workspace(zoo_dir, env={})
    pruned = apply_workspace(cluster, smaller, versions=versions)  # type: ignore[arg-type]
    assert pruned.prunes
    assert all(c.key.name.startswith("busy") for c in pruned.prunes)
    shutil.rmtree(zoo_dir / "models")
    (zoo_dir / "models").mkdir()
    apply_workspace(cluster, load_workspace(zoo_dir, env={}))  # type: ignore[arg-type]


def test_training_job_runs(workspace: Workspace) -> None:
    assert run_training_job(workspace, "ctr", {"n_samples": "2000"}) == 0
