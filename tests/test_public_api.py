"""The public API is pinned: what `import modelyard` offers, and that it imports light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import modelyard
import modelyard.backends
import modelyard.config
import modelyard.registry


def test_top_level_api() -> None:
    assert sorted(modelyard.__all__) == [
        "ConfigError",
        "Conflict",
        "IntegrityError",
        "JobFailed",
        "ModelyardError",
        "NotFound",
        "Refused",
        "StorageError",
        "TaskFailed",
        "Unavailable",
        "__version__",
        "abort",
        "deploy",
        "evaluate",
        "events",
        "history",
        "load_workspace",
        "logs",
        "pause",
        "promote",
        "resume",
        "rollback",
        "status",
        "sweep",
        "train",
        "tune",
    ]
    for name in modelyard.__all__:
        assert hasattr(modelyard, name)
    assert {"DeploymentEvent", "LogText"} <= set(modelyard.backends.__all__)


def test_package_apis() -> None:
    assert {"load_workspace", "ModelSpec", "DeploySpec", "InvalidConfig", "init_workspace"} <= set(
        modelyard.config.__all__
    )
    assert sorted(modelyard.registry.__all__) == [
        "FetchedModel",
        "ModelVersion",
        "PRODUCTION_ALIAS",
        "Registry",
        "tree_sha256",
    ]
    assert {"Backend", "backend_for", "RolloutStatus", "DeployResult"} <= set(
        modelyard.backends.__all__
    )


HEAVY = ("mlflow", "sklearn", "pandas", "pyarrow", "uvicorn", "starlette", "onnxruntime",
         "lightkube", "sqlalchemy")  # fmt: skip
"""What the CLI must not import before a command runs (nor for a steering command)."""


def _imported_by(argv: list[str], cwd: Path | None = None) -> tuple[list[str], str]:
    """Run ``modelyard ARGV`` in a fresh interpreter; the heavy modules it imported."""
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['modelyard', *{argv!r}]\n"
        "try:\n    runpy.run_module('modelyard', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("HEAVY ")), "")
    return eval(line[6:]) if line else ["?"], done.stdout + done.stderr


def test_importing_modelyard_and_its_api_names_stays_light() -> None:
    code = (
        "import sys, modelyard\n"
        "modelyard.deploy, modelyard.rollback, modelyard.logs, modelyard.tune\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["rollback", "--help"], ["serve", "--help"], ["rollout", "status", "--help"]],
)
def test_help_does_not_import_heavy_libraries(argv: list[str]) -> None:
    heavy, output = _imported_by(argv)
    assert heavy == [], output


def test_steering_commands_import_neither_mlflow_nor_sklearn(tmp_path: Path) -> None:
    """rollback, rollout status|promote|abort and history on the local backend: the whole
    path (workspace, state store, controller, admin client) without MLflow or scikit-learn.
    A fresh workspace has no deployment, so they end in "nothing to do" after that path."""
    from modelyard.config import init_workspace

    init_workspace(tmp_path / "ws")
    commands = [
        ["rollback", "ctr"],
        ["rollout", "status", "ctr"],
        ["rollout", "promote", "ctr"],
        ["rollout", "abort", "ctr"],
        ["history", "ctr"],
    ]
    for argv in commands:
        heavy, output = _imported_by([*argv, "-w", str(tmp_path / "ws")])
        assert heavy == [], f"{argv}: {output}"
