"""Fixtures of the image and pod tests (registered in tests/conftest.py): podman with the
repository's containers.conf, the Debian base made from Debian's packages
(scripts/make-base-image, once per machine), and one real build of the sklearn-cpu image per
session (podman's store keeps it across sessions, by tag).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelyard.config import init_workspace

REPO = Path(__file__).parents[1]
BASE = "localhost/modelyard-base:bookworm"


@dataclass(frozen=True)
class BuiltImage:
    workspace: Path
    tag: str
    first: dict[str, object]
    second: dict[str, object]


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing: .ci/run installs it")
        pytest.skip(f"needs {tool}")
    return path


@pytest.fixture(scope="session")
def podman() -> str:
    """podman, set up by the repository's containers.conf unless the caller chose one."""
    os.environ.setdefault("CONTAINERS_CONF", str(REPO / "scripts" / "containers.conf"))
    return _need("podman")


@pytest.fixture(scope="session")
def debian_base(podman: str) -> str:
    _need("mmdebstrap")
    subprocess.run([REPO / "scripts" / "make-base-image", BASE], check=True, timeout=900)
    return BASE


def _build(workspace: Path) -> dict[str, object]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelyard",
            "images",
            "build",
            "sklearn-cpu",
            "--json",
            "-w",
            str(workspace),
        ],
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (row,) = json.loads(done.stdout)
    return dict(row)


@pytest.fixture(scope="session")
def sklearn_image(debian_base: str, tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    """The example's sklearn-cpu runtime built on the Debian base, then built again."""
    root = tmp_path_factory.mktemp("images") / "ws"
    init_workspace(root)
    (root / "runtimes.yaml").write_text(
        "runtimes:\n"
        "  sklearn-cpu:\n"
        '    python: "3.11"\n'
        "    framework: sklearn\n"
        '    packages: ["scikit-learn>=1.5", "mlflow>=3.0"]\n'
        f"    base: {debian_base}\n"
    )
    first = _build(root)
    second = _build(root)
    return BuiltImage(root, str(first["image"]), first, second)
