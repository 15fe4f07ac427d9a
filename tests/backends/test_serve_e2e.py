"""`modelyard serve` end to end: a trained, registered version served by a real process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow.sklearn
import numpy as np
import pytest
import tritonclient.http as triton

from modelyard.backends.local.process import ServerProcess
from modelyard.config import load_workspace
from modelyard.registry import Registry


@pytest.fixture(scope="module")
def server(trained_workspace_dir: Path) -> Iterator[ServerProcess]:
    with ServerProcess(trained_workspace_dir, "ctr", version=1).running() as proc:
        yield proc


def _in_process(root: Path, version: int) -> object:
    mv = Registry.for_workspace(load_workspace(root)).resolve("ctr", version)
    return mlflow.sklearn.load_model(mv.source)


def _rows(n: int = 5) -> np.ndarray:
    return np.random.default_rng(3).normal(size=(n, 8))


def test_v1_and_v2_match_the_model_in_process(
    server: ServerProcess, trained_workspace_dir: Path
) -> None:
    model = _in_process(trained_workspace_dir, 1)
    rows = _rows()
    expected = model.predict_proba(rows)  # type: ignore[attr-defined]
    with httpx.Client(base_url=server.url) as client:
        v1 = client.post("/v1/models/ctr:predict", json={"instances": rows.tolist()})
        assert v1.status_code == 200
        assert v1.headers["x-model-version"] == "1"
        np.testing.assert_allclose(v1.json()["predictions"], expected, rtol=1e-12)
        body = {
            "id": "abc",
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [5, 8],
                    "datatype": "FP64",
                    "data": rows.ravel().tolist(),
                }
            ],
        }
        v2 = client.post("/v2/models/ctr/versions/1/infer", json=body).json()
    assert v2["id"] == "abc"
    assert v2["model_version"] == "1"
    out = v2["outputs"][0]
    assert out["shape"] == [5, 2]
    np.testing.assert_allclose(np.array(out["data"]).reshape(5, 2), expected, rtol=1e-12)


def test_version_two_differs_and_is_not_served(
    server: ServerProcess, trained_workspace_dir: Path
) -> None:
    rows = _rows()
    one = _in_process(trained_workspace_dir, 1).predict_proba(rows)  # type: ignore[attr-defined]
    two = _in_process(trained_workspace_dir, 2).predict_proba(rows)  # type: ignore[attr-defined]
    assert not np.allclose(one, two)
    reply = httpx.post(
        server.url + "/v2/models/ctr/versions/2/infer",
        json={
            "inputs": [
                {"name": "input-0", "shape": [1, 8], "datatype": "FP64", "data": rows[0].tolist()}
            ]
        },
    )
    assert reply.status_code == 404
    assert "error" in reply.json()


def test_published_v2_client_works_unchanged(
    server: ServerProcess, trained_workspace_dir: Path
) -> None:
    client = triton.InferenceServerClient(url=server.url.removeprefix("http://"))
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("ctr")
    meta = client.get_model_metadata("ctr")
    assert meta["inputs"][0]["shape"] == [-1, 8]
    rows = _rows(3)
    tensor = triton.InferInput("input-0", [3, 8], "FP64")
    tensor.set_data_from_numpy(rows)
    result = client.infer("ctr", [tensor])
    expected = _in_process(trained_workspace_dir, 1).predict_proba(rows)  # type: ignore[attr-defined]
    np.testing.assert_allclose(result.as_numpy("predict_proba"), expected, rtol=1e-12)


def test_metrics_count_the_requests(server: ServerProcess) -> None:
    httpx.post(server.url + "/v1/models/ctr:predict", json={"instances": _rows(1).tolist()})
    text = httpx.get(server.url + "/metrics").text
    assert 'modelyard_requests_total{code="200",model="ctr",role="primary",version="1"}' in text


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"{not json", 400),
        (b'{"instances": [[1, 2, 3]]}', 400),
        (b'{"instances": [["a", "b", "c", "d", "e", "f", "g", "h"]]}', 400),
        (b'{"instances": "nope"}', 400),
        (b'{"rows": [[1,2,3,4,5,6,7,8]]}', 400),
    ],
)
def test_bad_payloads_get_4xx(server: ServerProcess, payload: bytes, status: int) -> None:
    reply = httpx.post(
        server.url + "/v1/models/ctr:predict",
        content=payload,
        headers={"content-type": "application/json"},
    )
    assert reply.status_code == status
    assert reply.json()["error"]


def test_missing_version_is_refused_before_serving(trained_workspace_dir: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelyard",
            "serve",
            "ctr",
            "--version",
            "9",
            "-w",
            str(trained_workspace_dir),
            "--port",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3
    assert "version" in done.stderr


# Loaded into every interpreter of the child's process (sitecustomize, on its PYTHONPATH): at
# its exit it writes what that interpreter imported. `modelyard serve` replaces itself with the
# lean server (exec), so what is written is the serving interpreter's. uvicorn shuts down
# gracefully on SIGTERM, then re-raises it to the handler it found: this one, which exits.
SITECUSTOMIZE = """
import atexit, json, os, signal, sys
atexit.register(lambda: open(os.environ["MODULES_OUT"], "w").write(json.dumps(sorted(sys.modules))))
signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))
"""


def test_serve_of_a_cached_version_imports_no_mlflow(
    server: ServerProcess, trained_workspace_dir: Path, tmp_path: Path
) -> None:
    """The module's server fetched version 1 into the verified cache; serving it again takes
    the lean path: no Registry, no Tracking, no mlflow or sqlalchemy in the process, and the
    CLI becomes the lean server (same pid), which holds no CLI module either."""
    import json
    import os
    import signal

    from modelyard.backends.local.process import free_port

    port, out = free_port(), tmp_path / "modules.json"
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    argv = ["serve", "ctr", "--version", "1", "-w", str(trained_workspace_dir)]
    child = subprocess.Popen(
        [sys.executable, "-m", "modelyard", *argv, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": path, "MODULES_OUT": str(out)},
    )
    try:
        assert child.stderr is not None
        for line in child.stderr:  # wait on the server's own readiness line
            if "is ready" in line or "failed to load" in line:
                assert "is ready" in line, line
                break
        assert child.poll() is None, "the server exited"
        assert httpx.get(f"http://127.0.0.1:{port}/v2/health/ready").status_code == 200
        cmdline = Path(f"/proc/{child.pid}/cmdline").read_bytes().split(b"\0")
        assert b"modelyard.serving" in cmdline  # the same pid now runs the lean server
        child.send_signal(signal.SIGTERM)
        child.wait(60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    modules = json.loads(out.read_text())
    assert "modelyard.serving.process.main" in modules
    assert [m for m in modules if m.split(".")[0] in ("mlflow", "sqlalchemy", "typer")] == []
