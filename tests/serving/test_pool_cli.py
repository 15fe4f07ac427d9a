"""``modelyard serve --pool NAME`` end to end: a trained workspace's pooled model, resolved
through the registry, served by the lean pool process, loaded at its first request."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from modelyard.backends.local.process import free_port
from modelyard.cli import app

# the session's trained workspace (two trainings) may be built inside this file's first test
pytestmark = pytest.mark.timeout(900)


def _pooled_copy(trained: Path, tmp_path: Path, placement: str) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(trained, root, symlinks=True)
    with (root / "modelyard.yaml").open("a") as fh:
        fh.write("pools:\n  small: {memory: 1Gi, load_timeout: 60s}\n")
    with (root / "models" / "ctr" / "deploy.yaml").open("a") as fh:
        fh.write(f"pool: {placement}\n")
    return root


def _predict_when_loaded(url: str, rows: np.ndarray) -> httpx.Response:
    """The first answer of a model the pool loads on this request: a 503 with Retry-After
    while it loads past the pool's load timeout (a busy machine), then a 200."""
    deadline = time.monotonic() + 300
    while True:
        reply = httpx.post(url, json={"instances": rows.tolist()}, timeout=120)
        if reply.status_code == 200:
            return reply
        assert reply.status_code == 503, reply.text
        assert "retry-after" in reply.headers
        assert time.monotonic() < deadline, "the pooled model never loaded"


def test_serve_pool_serves_the_pooled_model_and_reports_it(
    trained_workspace_dir: Path, tmp_path: Path
) -> None:
    root = _pooled_copy(trained_workspace_dir, tmp_path, "small")
    port = free_port()
    argv = [sys.executable, "-m", "modelyard", "serve", "--pool", "small", "--port", str(port)]
    child = subprocess.Popen([*argv, "-w", str(root)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert child.stderr is not None
        for line in child.stderr:  # wait on uvicorn's own line
            if "Application startup complete" in line:
                break
        assert child.poll() is None, "the pool server exited"
        url = f"http://127.0.0.1:{port}"
        rows = np.random.default_rng(1).normal(size=(3, 8))
        first = _predict_when_loaded(f"{url}/v1/models/ctr:predict", rows)
        assert first.headers["x-model-version"] == "2"  # the newest: no production alias
        assert np.asarray(first.json()["predictions"]).shape == (3, 2)
        token = (root / ".modelyard" / "admin-token").read_text().strip()
        view = httpx.get(f"{url}/admin/pool", headers={"authorization": f"Bearer {token}"})
        assert view.status_code == 200
        (ctr,) = view.json()["models"]
        assert (ctr["model"], ctr["loaded"], ctr["version"], ctr["loads"]) == ("ctr", True, "2", 1)
        assert view.json()["memory_budget_bytes"] == 2**30
        child.send_signal(signal.SIGTERM)
        assert child.wait(60) in (0, -signal.SIGTERM)  # uvicorn re-raises it when done
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_serve_pool_refuses_an_unknown_pool_and_a_model_with_it(
    trained_workspace_dir: Path, tmp_path: Path
) -> None:
    root = _pooled_copy(trained_workspace_dir, tmp_path, "small")
    before = time.time()
    result = CliRunner().invoke(app, ["serve", "--pool", "big", "-w", str(root)])
    assert result.exit_code == 2, result.output
    assert "no pool 'big'" in result.output
    assert "pools: small" in result.output
    both = CliRunner().invoke(app, ["serve", "ctr", "--pool", "small", "-w", str(root)])
    assert both.exit_code == 2
    assert "one of the two" in both.output
    assert not any(p.stat().st_mtime > before for p in (root / ".modelyard" / "run").glob("*"))


def test_up_starts_one_pool_server_and_pools_shows_what_it_holds(
    trained_workspace_dir: Path, tmp_path: Path
) -> None:
    import json

    import psutil

    from modelyard.backends.local import pools
    from modelyard.backends.local.backend import LocalBackend
    from modelyard.backends.local.operations import supervisor_running
    from modelyard.config import load_workspace

    root = _pooled_copy(trained_workspace_dir, tmp_path, "{name: small, pinned: true}")
    backend = LocalBackend(load_workspace(root))
    try:
        (result,) = backend.up()
        assert (result.model_id, result.version, result.action) == ("ctr", "2", "started")
        assert result.url is not None
        again = backend.up()  # a second up finds the pool running
        assert [(r.model_id, r.action, r.url) for r in again] == [("ctr", "unchanged", result.url)]
        assert not supervisor_running(backend.workspace, "ctr")  # one pool server, no supervisor
        rows = np.random.default_rng(2).normal(size=(2, 8))
        _predict_when_loaded(f"{result.url}/v1/models/ctr:predict", rows)
        shown = CliRunner().invoke(app, ["pools", "--json", "-w", str(root)])
        assert shown.exit_code == 0, shown.output
        (view,) = json.loads(shown.output)
        assert (view["pool"], view["running"], view["loaded"]) == ("small", True, 1)
        (ctr,) = view["models"]
        assert (ctr["model"], ctr["loaded"], ctr["pinned"], ctr["evictions"]) == (
            "ctr", True, True, 0,
        )  # fmt: skip
        assert ctr["memory_bytes"] > 0
        table = CliRunner().invoke(app, ["pools", "-w", str(root)])
        assert "pool small" in table.output
        assert "ctr" in table.output
        server = pools.running(backend.workspace, "small")
        assert server is not None
    finally:
        stopped = backend.down()
    assert stopped == ["pool:small"]
    # down waited for the server to end and reaped it: a pool server started from this
    # process was left a zombie, and down waited for it to its full timeout
    assert not psutil.pid_exists(server.pid)
    try:
        httpx.get(f"{result.url}/v2/health/live", timeout=2)
        raise AssertionError("the pool server still answers after down")
    except httpx.TransportError:
        pass


def test_prometheus_scrapes_a_pool_server_once() -> None:
    from modelyard.backends.backend import DeployResult
    from modelyard.cli.companions import server_ports

    results = [
        DeployResult("a", "1", None, "started", "http://127.0.0.1:9001"),
        DeployResult("b", "4", None, "started", "http://127.0.0.1:9001"),  # same pool as a
        DeployResult("c", "2", 3, "started", "http://127.0.0.1:9002"),
    ]
    assert server_ports(results) == {"a": 9001, "c": 9002}
