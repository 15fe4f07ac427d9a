"""The public API is pinned: what `import modelyard` offers, and that it imports light."""

from __future__ import annotations

import subprocess
import sys

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
        "Unavailable",
        "__version__",
        "load_workspace",
        "train",
    ]
    for name in modelyard.__all__:
        assert hasattr(modelyard, name)


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


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['modelyard', '--help']\n"
        "try:\n    runpy.run_module('modelyard', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = ('mlflow', 'sklearn', 'pandas', 'onnxruntime', 'uvicorn', 'lightkube')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in done.stdout, done.stdout + done.stderr
