"""The pipeline as the rendered CronJob runs it (``pipeline run --in-cluster``): the same
steps in the same order; the deploy step reports why it does not ship from the pod."""

from __future__ import annotations

from modelyard.config import Workspace
from modelyard.pipelines.steps import STEP_NAMES, StepContext, cluster_steps, default_steps


def test_the_cluster_runs_the_same_steps() -> None:
    assert [name for name, _ in cluster_steps()] == list(STEP_NAMES)
    assert cluster_steps()[:-1] == default_steps()[:-1]


def test_the_cluster_deploy_step_names_the_version_and_the_way_to_ship_it(
    workspace: Workspace,
) -> None:
    deploy = dict(cluster_steps())["deploy"]
    line = deploy(StepContext(workspace, "ctr", {"version": "4"}))
    assert line.startswith("skipped in the cluster")
    assert "modelyard deploy ctr --version 4 --backend kubernetes" in line
