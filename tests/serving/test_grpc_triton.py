"""tritonclient.grpc, unchanged, gets from the gRPC front end what the REST path answers for the
same inputs, on the same server (one data plane): same outputs, ids, metadata and health."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest
from serving_harness import serve

from modelyard.serving import ModelSource, PredictionLogOptions, ServerOptions
from waiting import wait_until

CLIENT = Path(__file__).with_name("triton_grpc_client.py")


def triton(port: int, job: dict, tmp_path: Path) -> dict:
    """Run the tritonclient script against ``127.0.0.1:port`` in its own process."""
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    out = subprocess.run(
        [sys.executable, str(CLIENT), f"127.0.0.1:{port}", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def rest_infer(client, rows: np.ndarray, datatype: str) -> np.ndarray:
    body = {"inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": datatype,
                        "data": rows.ravel().tolist()}]}  # fmt: skip
    r = client.post("/v2/models/ctr/infer", json=body)
    assert r.status_code == 200, r.text
    (tensor,) = r.json()["outputs"]
    return np.reshape(tensor["data"], tensor["shape"])


@pytest.fixture(scope="module")
def served(sk_model, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("predlog")
    options = ServerOptions(prediction_log=PredictionLogOptions(log_dir, flush_interval=0.1))
    source = ModelSource("ctr", "1", sk_model.path, method="predict_proba")
    with serve(source, options, grpc=True) as running:
        yield running, log_dir


def test_tritonclient_grpc_matches_rest(served, sk_model, tmp_path):
    running, log_dir = served
    rng = np.random.default_rng(7)
    calls = [sk_model.X[:1], sk_model.X[:5], sk_model.X[100:164], rng.normal(size=(3, 8)) * 1e3]
    job = {
        "model": "ctr",
        "calls": [{"rows": rows.tolist(), "dtype": "float64", "datatype": "FP64"} for rows in calls]
        + [{"rows": calls[1].tolist(), "dtype": "float32", "datatype": "FP32"}],
    }
    report = triton(running.grpc_port, job, tmp_path)
    with running.client() as client:
        rest = [rest_infer(client, rows, "FP64") for rows in calls]
        rest.append(rest_infer(client, calls[1].astype(np.float32), "FP32"))
    assert len(report["answers"]) == len(rest)
    for index, (answer, expected) in enumerate(zip(report["answers"], rest, strict=True)):
        got = np.asarray(answer["values"])
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
        assert answer["id"] == f"t-{index}"
        assert (answer["version"], answer["output"]) == ("1", "predict_proba")
    np.testing.assert_allclose(
        np.asarray(report["answers"][1]["values"]),
        sk_model.model.predict_proba(calls[1]),
        rtol=1e-12,
    )
    assert (report["live"], report["ready"], report["model_ready"]) == (True, True, True)
    assert report["server"]["name"] == "modelyard"
    meta = report["metadata"]
    assert meta["name"] == "ctr"
    assert meta["versions"] == ["1"]
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": ["-1", "8"]}]
    assert meta["outputs"] == [{"name": "predict_proba", "datatype": "FP64", "shape": ["-1", "2"]}]
    assert report["errors"] == {
        "unknown model": "StatusCode.NOT_FOUND",
        "wrong width": "StatusCode.INVALID_ARGUMENT",
        "nan": "StatusCode.INVALID_ARGUMENT",
        "too large": "StatusCode.RESOURCE_EXHAUSTED",
    }

    # one data plane: the gRPC requests are in the same counters and the same prediction log
    with running.client() as client:
        text = client.get("/metrics").text
    assert 'modelyard_grpc_requests_total{grpc_code="OK",model="ctr"} 5.0' in text
    assert 'modelyard_grpc_requests_total{grpc_code="INVALID_ARGUMENT",model="ctr"} 2.0' in text
    line = 'modelyard_requests_total{code="200",model="ctr",role="primary",version="1"} 10.0'
    assert line in text

    def logged() -> set[str]:
        if not (log_dir / "model=ctr").is_dir():
            return set()
        table = ds.dataset(log_dir / "model=ctr", format="parquet", partitioning="hive")
        ids = set(table.to_table().column("request_id").to_pylist())
        return ids if {f"t-{i}" for i in range(5)} <= ids else set()

    wait_until(logged, "the gRPC requests' ids in the prediction log", timeout_s=30)
