"""`serving.format: onnx`: the sklearn model is converted at registration, checked against
the original, and served by ONNX Runtime with the same answers."""

from __future__ import annotations

from pathlib import Path

import httpx
import mlflow.sklearn
import numpy as np

from modelyard.backends.local.process import ServerProcess
from modelyard.config import load_workspace
from modelyard.registry import Registry
from modelyard.workflows import train


def test_onnx_version_is_converted_checked_and_served(workspace_dir: Path) -> None:
    model_yaml = workspace_dir / "models" / "ctr" / "model.yaml"
    model_yaml.write_text(
        model_yaml.read_text().replace(
            "method: predict_proba", "method: predict_proba\n  format: onnx"
        )
    )
    ws = load_workspace(workspace_dir)
    result = train(ws, "ctr", ["n_samples=3000"])
    assert result.version is not None
    assert result.version.tags["modelyard.format"] == "onnx"
    assert float(result.version.tags["modelyard.onnx_max_abs_diff"]) <= 1e-6
    fetched = Registry.for_workspace(ws).fetch("ctr", result.version.version)
    assert (fetched.path / "model.onnx").is_file()
    assert "onnx:" in (fetched.path / "MLmodel").read_text()

    sklearn_model = Registry.for_workspace(ws).tracking.logged_model(
        result.experiment_id, result.run_id
    )
    assert sklearn_model is not None
    rows = np.random.default_rng(5).normal(size=(4, 8))
    expected = mlflow.sklearn.load_model(sklearn_model.artifact_location).predict_proba(rows)

    server = ServerProcess(workspace_dir, "ctr", version=result.version.version)
    server.start()
    try:
        server.wait_ready(timeout_s=120)
        meta = httpx.get(server.url + "/v2/models/ctr").json()
        assert meta["platform"] == "onnx"
        reply = httpx.post(server.url + "/v1/models/ctr:predict", json={"instances": rows.tolist()})
        assert reply.status_code == 200
        np.testing.assert_allclose(reply.json()["predictions"], expected, atol=1e-6)
    finally:
        server.stop()
