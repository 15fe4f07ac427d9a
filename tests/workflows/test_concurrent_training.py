"""Many commands at once lose nothing: 8 trainings over 4 models started together, and two
pipelines side by side, all succeed with distinct versions and nothing half-written.

Real ``modelyard`` processes on a fresh ``modelyard init`` workspace (no migrated database
copied in: the first trainings also race on creating MLflow's schema, which used to fail
with "table experiments already exists" or "duplicate column name"). Each case runs against
the embedded SQLite store and against a real ``mlflow server`` on loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.config import init_workspace, load_workspace
from modelyard.registry import Registry
from waiting import wait_until

# the stress stage (scripts/check stress): eight trainings at once keep both cores busy
pytestmark = [pytest.mark.slow, pytest.mark.stress]

MODELS = ("ctr", "ctr-b", "ctr-c", "ctr-d")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# MLflow 3's server starts a job runner with a pool of Huey consumers (about 1.3 GB) for
# features modelyard does not use, and they can outlive a killed server: off.
NO_JOB_RUNNER = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``mlflow server`` (SQLite backend) on a free loopback port, ready; one for this
    file's tests, which train models of different names in it (the server made its schema
    itself when it started: the race on the schema is the SQLite case's)."""
    tmp_path = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    log = (tmp_path / "mlflow-server.log").open("w")
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--default-artifact-root",
            str(tmp_path / "server-artifacts"),
            "--workers",
            "2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=NO_JOB_RUNNER,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, (tmp_path / "mlflow-server.log").read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    try:
        wait_until(healthy, "the mlflow server to be ready", timeout_s=300, every_s=0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        log.close()


def _workspace(root: Path, tracking_uri: str | None, models: tuple[str, ...] = MODELS) -> Path:
    """A fresh workspace with ``models``, each a copy of the example ``ctr``."""
    init_workspace(root)
    source = root / "models" / "ctr"
    model = source / "model.yaml"
    model.write_text(model.read_text().replace("n_samples: 20000", "n_samples: 2000"))
    for model_id in models:
        if model_id == "ctr":
            continue
        shutil.copytree(source, root / "models" / model_id)
        copy = root / "models" / model_id / "model.yaml"
        copy.write_text(copy.read_text().replace("id: ctr", f"id: {model_id}", 1))
    if tracking_uri:
        settings = root / "modelyard.yaml"
        settings.write_text(settings.read_text() + f"tracking_uri: {tracking_uri}\n")
    return root


def _modelyard(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "modelyard", *args, "-w", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _half_written(root: Path) -> list[Path]:
    """Temporary and staging files a command left behind."""
    patterns = ("*.staging", "*.tmp", "train-*-*/spec.json")
    state = root / ".modelyard"
    return [path for pattern in patterns for path in state.rglob(pattern)]


@pytest.fixture(params=["sqlite", "server"])
def tracking_uri(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("tracking_server"))


def test_eight_trainings_over_four_models_at_once(tmp_path: Path, tracking_uri: str | None) -> None:
    root = _workspace(tmp_path / "ws", tracking_uri)
    racers = [_modelyard(root, "train", model_id, "--json") for model_id in MODELS * 2]
    ended = [(p.wait(600), *p.communicate()) for p in racers]
    assert [code for code, _, _ in ended] == [0] * 8, [err[-2000:] for _, _, err in ended]
    results = [json.loads(out) for _, out, _ in ended]

    registry = Registry.for_workspace(load_workspace(root))
    run_ids = {r["run_id"] for r in results}
    assert len(run_ids) == 8
    for model_id in MODELS:
        mine = sorted(r["version"] for r in results if r["model"] == model_id)
        assert mine == [1, 2], (model_id, results)
        versions = registry.tracking.versions(model_id)
        assert [v.version for v in versions] == [1, 2]
        assert {v.run_id for v in versions} == {
            r["run_id"] for r in results if r["model"] == model_id
        }
        for version in versions:  # each whole: its checksum verifies on a fetch
            fetched = registry.fetch(model_id, version.version)
            assert (fetched.path / "MLmodel").exists()
    statuses = {registry.tracking.get_run(run_id).status for run_id in run_ids}
    assert statuses == {"FINISHED"}
    assert _half_written(root) == []


PIPELINE_MODELS = ("pipe-a", "pipe-b")
"""Not the trainings' models: the tracking server is shared with that test."""


def test_two_pipelines_run_side_by_side(tmp_path: Path, tracking_uri: str | None) -> None:
    root = _workspace(tmp_path / "ws", tracking_uri, PIPELINE_MODELS)
    program = (
        "import sys; from modelyard.config import load_workspace; "
        "from modelyard.pipelines import run_pipeline; "
        "from modelyard.pipelines.steps import default_steps; "
        "steps = [s for s in default_steps() if s[0] != 'deploy']; "
        "r = run_pipeline(load_workspace(sys.argv[1]), sys.argv[2], steps=steps); "
        "sys.exit(0 if r is not None and r.ok else 3)"
    )
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", program, str(root), model_id],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for model_id in PIPELINE_MODELS
    ]
    ended = [(p.wait(600), *p.communicate()) for p in racers]
    assert [code for code, _, _ in ended] == [0, 0], [err[-2000:] for _, _, err in ended]

    from modelyard.pipelines.engine import history_for

    ws = load_workspace(root)
    history = history_for(ws)
    registry = Registry.for_workspace(ws)
    for model_id in PIPELINE_MODELS:
        runs = history.runs(model_id)
        assert [r.status for r in runs] == ["ok"], runs
        assert [s.status for s in runs[0].steps] == ["ok"] * 4
        assert [v.version for v in registry.tracking.versions(model_id)] == [1]
    assert _half_written(root) == []
