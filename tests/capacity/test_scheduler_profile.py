"""The KubeSchedulerConfiguration that packing advice recommends, and `render` emitting it."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from modelyard.cli.app import app
from modelyard.errors import ConfigError
from modelyard.k8s.scheduler import scheduler_configuration
from registry_bed import POD_REACHABLE_ENV


def test_modelyard_profile_bin_packs_with_gpus_counted():
    config = scheduler_configuration("modelyard")
    assert config["apiVersion"] == "kubescheduler.config.k8s.io/v1"
    (profile,) = config["profiles"]
    (plugin,) = profile["pluginConfig"]
    strategy = plugin["args"]["scoringStrategy"]
    assert plugin["name"] == "NodeResourcesFit"
    assert strategy["type"] == "MostAllocated"
    assert {r["name"] for r in strategy["resources"]} == {"cpu", "memory", "nvidia.com/gpu"}
    with pytest.raises(ConfigError, match="unknown scoring strategy"):
        scheduler_configuration("BestFit")


def test_render_emits_the_profile(workspace_dir):
    result = CliRunner().invoke(
        app,
        [
            "render",
            "--scheduler-profile",
            "LeastAllocated",
            "-w",
            str(workspace_dir),
            "--version",
            "ctr=1",
        ],
        env=POD_REACHABLE_ENV,
    )
    assert result.exit_code == 0, result.output
    docs = list(yaml.safe_load_all(result.output))
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "KubeSchedulerConfiguration"
    assert "Deployment" in kinds or "Rollout" in kinds
    assert (
        docs[0]["profiles"][0]["pluginConfig"][0]["args"]["scoringStrategy"]["type"]
        == "LeastAllocated"
    )
