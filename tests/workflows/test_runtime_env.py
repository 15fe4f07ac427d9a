"""A runtime with `local: venv` trains in its own cached virtual environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.config import load_workspace
from modelyard.errors import JobFailed
from modelyard.workflows import train


def test_venv_runtime_runs_the_script_in_its_own_environment(workspace_dir: Path) -> None:
    (workspace_dir / "runtimes.yaml").write_text(
        "runtimes:\n  bare:\n    python: '3.11'\n    packages: []\n    local: venv\n"
    )
    folder = workspace_dir / "models" / "ctr"
    model_yaml = folder / "model.yaml"
    model_yaml.write_text(model_yaml.read_text().replace("runtime: sklearn-cpu", "runtime: bare"))
    (folder / "train.py").write_text(
        "import sys\nprint('python', sys.prefix)\n"
        "try:\n    import mlflow\nexcept ImportError:\n    print('no mlflow here')\n"
        "raise SystemExit(5)\n"
    )
    with pytest.raises(JobFailed) as caught:
        train(load_workspace(workspace_dir), "ctr")
    assert caught.value.exit_code == 5
    envs = workspace_dir / ".modelyard" / "envs"
    built = [p for p in envs.iterdir() if p.name.startswith("bare-")]
    assert len(built) == 1
    assert f"python {built[0]}" in str(caught.value)
    assert "no mlflow here" in str(caught.value)  # not modelyard's own environment
