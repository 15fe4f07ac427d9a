"""Issue 10, row 7: ``kill -9`` of ``modelyard train`` mid-run stops the script, and the next
command that looks (``modelyard runs``) marks the run FAILED with the reason, saying that it
logged a model but registered no version.

Real processes: the CLI trains a script that logs a model, prints its pid and sleeps; the test
waits for that line on the CLI's output (the event, not a sleep), kills the CLI with SIGKILL,
waits for the script's process to exit, then reads ``modelyard runs ctr --json``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

SCRIPT = """
import os, time
import mlflow, mlflow.sklearn
import numpy as np
from sklearn.linear_model import LogisticRegression
X = np.random.default_rng(0).normal(size=(50, 8))
with mlflow.start_run():
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
    print(f"model logged by pid {os.getpid()}", flush=True)
    time.sleep(600)
"""


def _modelyard(*args: str) -> list[str]:
    return [sys.executable, "-m", "modelyard", *args]


def test_kill_9_of_train_fails_the_run_with_the_reason(workspace_dir: Path) -> None:
    (workspace_dir / "models" / "ctr" / "train.py").write_text(SCRIPT)
    cli = subprocess.Popen(
        _modelyard("train", "ctr", "-w", str(workspace_dir)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    script: psutil.Process | None = None
    try:
        assert cli.stdout is not None
        for line in cli.stdout:  # the script is up and has logged its model
            if "model logged by pid" in line:
                script = psutil.Process(int(line.rsplit(" ", 1)[1]))
                break
        assert script is not None, "the script never said it logged its model"
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait(timeout=30)
        _, alive = psutil.wait_procs([script], timeout=30)
        assert alive == [], f"the training script is still running: {alive}"
    finally:
        cli.kill()
        if script is not None and script.is_running():
            script.kill()
    done = subprocess.run(
        _modelyard("runs", "ctr", "--json", "-w", str(workspace_dir)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert row["status"] == "FAILED"
    assert row["version"] is None
    assert row["logged_model"] is True
    assert f"`modelyard train` (pid {cli.pid}) died before the run finished" in row["note"]
    assert "logged a model, but no version was registered" in row["note"]
