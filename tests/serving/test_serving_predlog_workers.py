"""Prediction log to hourly Parquet, and several uvicorn workers with aggregated metrics."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pyarrow.dataset as ds
from serving_fakes import OffsetModel, write_model
from serving_harness import serve

from modelyard.serving import ModelSource, PredictionLogOptions, ServerOptions
from waiting import wait_until


def test_every_answered_request_is_logged(tmp_path):
    path = write_model(tmp_path / "m", OffsetModel(0.0), features=2)
    log_dir = tmp_path / "log"
    options = ServerOptions(
        prediction_log=PredictionLogOptions(directory=log_dir, flush_interval=0.2)
    )
    ids = [f"req-{i}" for i in range(30)]
    with serve(ModelSource("m", "7", path), options) as running, running.client() as c:
        for i, rid in enumerate(ids):
            r = c.post(
                "/v1/models/m:predict",
                json={"instances": [[i, 1.0]]},
                headers={"x-request-id": rid},
            )
            assert r.headers["x-request-id"] == rid
        generated = c.post("/v1/models/m:predict", json={"instances": [[0, 0]]}).headers[
            "x-request-id"
        ]
    files = list(log_dir.glob("model=m/date=*/hour=*/*.parquet"))
    assert files
    table = ds.dataset(log_dir / "model=m", format="parquet", partitioning="hive").to_table()
    rows = {r["request_id"]: r for r in table.to_pylist()}
    assert set(ids) | {generated} == set(rows)
    assert rows["req-3"]["inputs"] == "[[3.0,1.0]]"
    assert rows["req-3"]["outputs"] == "[4.0]"
    assert rows["req-3"]["version"] == "7"
    assert rows["req-3"]["latency_ms"] >= 0


SERVER = """
import sys
from pathlib import Path
from modelyard.serving import ModelSource, ServerOptions, run_server
source = ModelSource("m", "1", Path(sys.argv[1]))
run_server(source, ServerOptions(), port=int(sys.argv[2]), workers=2)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_workers_aggregate_metrics(tmp_path):
    path = write_model(tmp_path / "m", OffsetModel(0.0), features=2)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(path), str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        # both workers are ready when 20 readiness checks in a row, each on a new connection
        # (the kernel spreads them over the workers), answer 200: were one still warming up,
        # about half would reach it
        def ready() -> bool:
            try:
                return httpx.get(f"{url}/v2/health/ready").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(
            lambda: all(ready() for _ in range(20)), "both workers to be ready", 90, every_s=0.05
        )
        for _ in range(40):  # a new connection each time, spread over the workers
            assert (
                httpx.post(f"{url}/v1/models/m:predict", json={"instances": [[1, 2]]}).status_code
                == 200
            )
        text = httpx.get(f"{url}/metrics").text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    line = 'modelyard_requests_total{code="200",model="m",role="primary",version="1"}'
    total = sum(float(x.split()[-1]) for x in text.splitlines() if x.startswith(line))
    assert total == 40.0
