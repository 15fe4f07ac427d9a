"""``modelyard train ctr --sweep`` end to end: real trainings as parallel jobs, real MLflow.

The first test is the issue's demonstration: a fresh ``modelyard init`` workspace (no
migrated database copied in, so the trials also race on creating MLflow's schema), eight
trials two at a time, every one a child run of one parent, ranked, and only the winner
registered. The second shows that a failed trial is recorded and the sweep goes on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelyard.config import init_workspace, load_workspace
from modelyard.registry import Registry
from modelyard.tracking import Tracking

# the stress stage (scripts/check stress): each test runs its trials two at a time
pytestmark = [pytest.mark.slow, pytest.mark.stress]


def _children(tracking: Tracking, experiment: str, parent: str) -> list[object]:
    found = tracking.client.get_experiment_by_name(experiment)
    return list(
        tracking.client.search_runs(
            [found.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'"
        )
    )


def test_sweep_of_eight_trials_two_at_a_time_registers_only_the_winner(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root)
    command = [
        sys.executable,
        "-m",
        "modelyard",
        "train",
        "ctr",
        "--sweep",
        "--trials",
        "8",
        "--parallel",
        "2",
        "--register",
        "best",
        "-p",
        "n_samples=2000",
        "-w",
        str(root),
        "--json",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)

    trials = result["trials"]
    assert len(trials) == 8
    assert all(t["status"] == "finished" for t in trials), trials
    values = [t["value"] for t in trials]
    assert values == sorted(values, reverse=True)  # ranked, best first (auc: maximize)
    assert result["parallel"] == 2
    assert result["best_run_id"] == trials[0]["run_id"]

    ws = load_workspace(root)
    registry = Registry.for_workspace(ws)
    children = _children(registry.tracking, "ctr", result["parent_run_id"])
    assert sorted(r.info.run_id for r in children) == sorted(t["run_id"] for t in trials)
    assert {r.info.status for r in children} == {"FINISHED"}
    assert len({r.data.params["C"] for r in children}) == 8  # eight different draws
    parent = registry.tracking.get_run(result["parent_run_id"])
    assert parent.status == "FINISHED"
    assert parent.metrics["best_auc"] == pytest.approx(values[0])

    versions = registry.tracking.versions("ctr")
    assert [(v.version, v.run_id) for v in versions] == [(1, trials[0]["run_id"])]
    assert result["version"] == 1
    assert result["gate"]["candidate"] == 1
    assert versions[0].tags["modelyard.gate"] in ("passed", "failed")


def test_a_failed_trial_is_recorded_and_the_sweep_goes_on(
    workspace_dir: Path,
) -> None:
    from modelyard.workflows import sweep

    model = workspace_dir / "models" / "ctr" / "model.yaml"
    text = model.read_text()
    text = text.replace("C: {low: 0.01, high: 10.0, log: true}", "C: {values: [1.0]}")
    text = text.replace("max_iter: {values: [50, 100, 200]}", "max_iter: {values: [-1, 50]}")
    model.write_text(text.replace("search: random ", "search: grid "))
    ws = load_workspace(workspace_dir)
    ended: list[int] = []
    from modelyard.workflows.sweeps import SweepEvents

    result = sweep(
        ws,
        "ctr",
        params=["n_samples=2000"],
        register="best",
        events=SweepEvents(on_done=lambda trial, ranked: ended.append(trial.number)),
    )
    assert sorted(ended) == [0, 1]
    good, bad = result.trials
    assert (good.params["max_iter"], good.status) == (50, "finished")
    assert (bad.params["max_iter"], bad.status, bad.value) == (-1, "failed", None)
    assert "exited with code 1" in (bad.error or "")
    assert bad.log_path
    assert "max_iter" in Path(bad.log_path).read_text()
    assert result.version is not None
    assert result.version.run_id == good.run_id

    tracking = Registry.for_workspace(ws).tracking
    children = _children(tracking, "ctr", result.parent_run_id)
    assert sorted(r.info.status for r in children) == ["FAILED", "FINISHED"]
    assert [v.version for v in tracking.versions("ctr")] == [1]
