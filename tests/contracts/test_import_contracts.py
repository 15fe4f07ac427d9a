"""The import contracts bite: a forbidden import in a copy of the package breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tmp / "src")}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=tmp, env=env, capture_output=True, text=True, timeout=240
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src" / "modelyard", tmp_path / "src" / "modelyard")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "serving/dataplane/metrics.py",
            "import mlflow",
            "imports mlflow except the tracking adapter",
        ),
        ("backends/kubernetes/usage.py", "import lightkube", "lightkube except the Kubernetes"),
        ("serving/dataplane/stats.py", "import modelyard.backends", "Layers run one way"),
        ("clock.py", "import modelyard.config", "Layers run one way"),
        (
            "backends/local/state.py",
            "import modelyard.backends.local.controller",
            "The local backend's modules run one way",
        ),
    ],
)
def test_a_forbidden_import_breaks_the_contracts(
    copy: Path, module: str, line: str, contract: str
) -> None:
    target = copy / "src" / "modelyard" / module
    target.write_text(target.read_text() + f"\n{line}  # forbidden\n")
    done = _lint(copy)
    assert done.returncode != 0, done.stdout
    rows = done.stdout.splitlines()
    assert any(contract in row and "BROKEN" in row for row in rows), done.stdout
