"""Schemathesis over the server's own ``/openapi.json`` (issue 20): infer (v1, v2, by version),
metadata, health, feedback and every admin route, with the admin token, the prediction log and
the feedback join on. Not one answer may be a 5xx. Bounded in examples and seeded, so that it
runs in about 20 s and the same way every time; it must not skip in CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from serving_fakes import OffsetModel, write_model
from serving_harness import Running, serve

from modelyard.serving import ModelSource, PredictionLogOptions, ServerOptions

TOKEN = "fuzz-admin-token"


def _st() -> str:
    found = Path(sys.executable).with_name("st")
    if found.exists():
        return str(found)
    on_path = shutil.which("st")
    if on_path is None:
        message = "schemathesis (the dev extra) is not installed: no `st` command"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return on_path


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("fuzz")
    path = write_model(root / "m", OffsetModel(0.0), features=2)
    options = ServerOptions(
        prediction_log=PredictionLogOptions(directory=root / "log", flush_interval=0.5),
        admin_token=TOKEN,
    )
    with serve(ModelSource("m", "1", path), options) as running:
        yield running


def test_the_document_covers_infer_metadata_feedback_and_admin(fuzzed: Running) -> None:
    with fuzzed.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v2/models/{name}/infer",
        "/v2/models/{name}",
        "/v1/models/{name}:predict",
        "/v2/models/{name}/feedback",
        "/admin/models/{name}",
        "/admin/models/{name}/versions",
        "/admin/models/{name}/traffic",
        "/admin/models/{name}/promote",
    ):
        assert path in paths


def test_schemathesis_finds_no_server_error(fuzzed: Running, tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    done = subprocess.run(
        [
            _st(), "run", f"{fuzzed.url}/openapi.json",
            "--checks", "not_a_server_error",
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", "30",
            "--seed", "20",
            "--workers", "1",
            "-H", f"Authorization: Bearer {TOKEN}",
            "--report", "junit", "--report-junit-path", str(report),
        ],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    # it ran requests on every operation (infer and admin included), not zero of them
    text = report.read_text()
    assert "/admin/models/{name}/versions" in text
    assert "/v2/models/{name}/infer" in text
    assert "/v2/models/{name}/feedback" in text
