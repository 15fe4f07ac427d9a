"""A real image: ``images build sklearn-cpu`` with podman on a Debian base made from Debian's
packages, run the way a pod runs it (uid 10001, read-only root, no capabilities)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import modelyard
from image_bed import BuiltImage

HALF_GB = 500_000_000
# a cold machine makes the base (mmdebstrap) and builds the image in the first test's set-up
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _run(podman: str, tag: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            podman,
            "run",
            "--rm",
            "--user",
            "10001:10001",
            "--read-only",
            "--cap-drop",
            "ALL",
            "--network",
            "none",
            tag,
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_image_runs_modelyard_as_10001_on_a_read_only_root(
    sklearn_image: BuiltImage, podman: str
) -> None:
    done = _run(podman, sklearn_image.tag, "modelyard", "--version")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"modelyard {modelyard.__version__}"
    assert sklearn_image.first["status"] in ("built", "up to date")


def test_the_image_holds_what_serve_and_train_import(
    sklearn_image: BuiltImage, podman: str
) -> None:
    probe = (
        "import getpass, os, sklearn, mlflow.sklearn, boto3, skops.io, pyarrow.parquet, uvicorn;"
        "import modelyard.serving.rest.app, modelyard.workflows.training;"
        "print(getpass.getuser(), os.getuid(), os.environ['HOME'])"
    )
    done = _run(podman, sklearn_image.tag, "python", "-c", probe)

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["modelyard", "10001", "/tmp"]


def test_a_second_build_with_nothing_changed_keeps_the_tag(sklearn_image: BuiltImage) -> None:
    assert sklearn_image.second["status"] == "up to date"
    assert sklearn_image.second["image"] == sklearn_image.tag
    record = json.loads(
        (Path(sklearn_image.workspace) / ".modelyard" / "images" / "index.json").read_text()
    )["images"]["sklearn-cpu"]
    assert record["tag"] == sklearn_image.tag


def test_the_image_pulls_as_under_half_a_gigabyte(
    sklearn_image: BuiltImage, podman: str, tmp_path: Path
) -> None:
    # What a node pulls and a registry stores: the compressed layers. (Unpacked it is larger:
    # bench/images prints both; the README says why.)
    target = tmp_path / "pushed"
    subprocess.run(
        [podman, "push", "--quiet", "--compress", sklearn_image.tag, f"dir:{target}"],
        check=True,
        timeout=600,
    )
    pulled = sum(path.stat().st_size for path in target.iterdir())

    assert pulled < HALF_GB
    assert int(str(sklearn_image.first["size_bytes"])) > pulled
