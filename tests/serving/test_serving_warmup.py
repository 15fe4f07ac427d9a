"""Pre-warming: a version reports ready only after its warm-up requests ran."""

from __future__ import annotations

import serving_fakes
from serving_fakes import GatedModel, write_model
from serving_harness import serve

from modelyard.serving import ModelSource
from waiting import wait_until


def test_not_ready_until_warm(tmp_path):
    serving_fakes.WARM.clear()
    path = write_model(tmp_path / "gated", GatedModel(), features=3)
    source = ModelSource("slow", "1", path, warmup_inputs=[[1.0, 2.0, 3.0]], warmup_requests=2)
    try:
        with serve(source, wait_ready=False) as running, running.client() as client:
            assert client.get("/v2/health/live").status_code == 200
            assert client.get("/v2/health/ready").status_code == 400
            assert client.get("/v2/models/slow/ready").status_code == 400
            r = client.post("/v1/models/slow:predict", json={"instances": [[1, 2, 3]]})
            assert r.status_code == 503
            assert "retry-after" in r.headers
            serving_fakes.WARM.set()
            wait_until(
                lambda: client.get("/v2/health/ready").status_code == 200,
                "the warm-up to end",
                30,
                every_s=0.02,
            )
            r = client.post("/v1/models/slow:predict", json={"instances": [[1, 2, 3]]})
            assert r.json() == {"predictions": [6.0]}
    finally:
        serving_fakes.WARM.set()


def test_warmup_rows_generated_from_signature(tmp_path):
    from modelyard.serving.protocol.signature import generated_rows, read_mlmodel

    path = write_model(tmp_path / "m", GatedModel(), features=5)
    rows = generated_rows(read_mlmodel(path).signature)
    assert rows.shape == (1, 5)
    assert rows.dtype == "float64"
