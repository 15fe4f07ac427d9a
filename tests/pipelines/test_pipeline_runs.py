"""Pipeline runs: one step at a time under a run key (as Airflow runs them), the history
command, and the real steps on the example model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_fakes import T0, RecordingSteps

from modelyard.clock import ManualClock
from modelyard.config import Workspace
from modelyard.pipelines import StepFailed, run_pipeline, run_step
from modelyard.pipelines.steps import default_steps


def test_steps_run_one_by_one_share_the_run(scheduled_ws: Workspace) -> None:
    clock, steps = ManualClock(T0), RecordingSteps()
    for name in ("train", "evaluate", "gate"):
        result = run_step(scheduled_ws, "ctr", name, "airflow-1", steps=steps("ctr"), clock=clock)
    assert result.outputs["version"] == "1"
    assert [s.status for s in result.record.steps] == ["ok", "ok", "ok", "pending", "pending"]
    assert result.record.steps[2].detail == "gate of version 1"  # saw train's output
    steps.fail_gate = True
    with pytest.raises(StepFailed, match=r"step gate of ctr failed: auc=0\.61"):
        run_step(scheduled_ws, "ctr", "gate", "airflow-2", steps=steps("ctr"), clock=clock)


def test_history_lists_runs_with_each_step(scheduled_ws: Workspace) -> None:
    steps = RecordingSteps()
    steps.fail_gate = True
    run_pipeline(scheduled_ws, "ctr", steps=steps("ctr"), clock=ManualClock(T0))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelyard",
            "pipeline",
            "history",
            "ctr",
            "--json",
            "-w",
            str(scheduled_ws.root),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    (run,) = json.loads(out.stdout)
    assert run["status"] == "failed"
    assert [(s["name"], s["status"]) for s in run["steps"]] == [
        ("train", "ok"),
        ("evaluate", "ok"),
        ("gate", "failed"),
        ("register", "skipped"),
        ("deploy", "skipped"),
    ]


def test_real_steps_train_evaluate_gate_and_register(workspace_dir: Path) -> None:
    from modelyard.config import load_workspace
    from modelyard.registry import Registry

    without_deploy = [s for s in default_steps() if s[0] != "deploy"]
    # a small training keeps it quick
    model = workspace_dir / "models" / "ctr" / "model.yaml"
    model.write_text(model.read_text().replace("n_samples: 20000", "n_samples: 3000"))
    ws = load_workspace(workspace_dir)
    result = run_pipeline(ws, "ctr", steps=without_deploy)
    assert result is not None
    assert result.ok, result.record.steps
    assert [s.status for s in result.record.steps] == ["ok"] * 4
    assert result.record.steps[1].detail.startswith("auc=")
    version = Registry.for_workspace(ws).resolve("ctr", alias="candidate")
    assert version.version == 1
    assert version.tags["modelyard.gate"] == "passed"
    assert "modelyard.eval.auc" in version.tags
    assert result.record.steps[0].detail.startswith("version 1 (run ")
