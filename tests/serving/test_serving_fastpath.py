"""The raw ASGI inference routes, request ids, and where the model runs (inline or pool)."""

from __future__ import annotations

import numpy as np
import pytest
from serving_harness import serve

from modelyard.serving import BatchingOptions, ModelSource, ServerOptions
from modelyard.serving.rest.asgi import match_inference
from modelyard.serving.rest.handlers import RequestIds


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/models/ctr:predict", (False, "ctr", None)),
        ("/v2/models/ctr/infer", (True, "ctr", None)),
        ("/v2/models/ctr/versions/3/infer", (True, "ctr", "3")),
        ("/v1/models/:predict", None),
        ("/v1/models/a/b:predict", None),
        ("/v2/models//infer", None),
        ("/v2/models/ctr/versions//infer", None),
        ("/v2/models/ctr/other/3/infer", None),
        ("/v2/models/ctr", None),
        ("/metrics", None),
    ],
)
def test_inference_paths_match_as_starlette_would(path, expected):
    assert match_inference(path) == expected


def test_generated_request_ids_are_unique_hex():
    ids = RequestIds()
    seen = {ids.next() for _ in range(1000)}
    assert len(seen) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in seen)


def test_other_methods_on_inference_paths_reach_starlette(sk_server):
    with sk_server.client() as client:
        assert client.get("/v1/models/ctr:predict").status_code == 405
        assert client.get("/v2/models/ctr/infer").status_code == 405


def test_unknown_model_on_the_fast_path_is_404_with_request_id(sk_server):
    with sk_server.client() as client:
        r = client.post("/v1/models/nope:predict", json={"instances": [[0.0] * 8]})
    assert r.status_code == 404
    assert "is not served here" in r.json()["error"]
    assert r.headers["x-request-id"]


@pytest.mark.parametrize(("threshold", "inline"), [(1000.0, True), (0.0, False)])
def test_a_fast_model_runs_inline_unless_disabled(sk_model, threshold, inline):
    source = ModelSource("ctr", "1", sk_model.path, method="predict_proba")
    for batching in (True, False):
        options = ServerOptions(
            batching=BatchingOptions(enabled=batching), inline_below_ms=threshold
        )
        with serve(source, options) as running, running.client() as client:
            assert running.app.state.deployment.primary.inline is inline
            r = client.post("/v1/models/ctr:predict", json={"instances": sk_model.X[:2].tolist()})
            assert r.status_code == 200
            expected = sk_model.model.predict_proba(sk_model.X[:2])
            np.testing.assert_allclose(r.json()["predictions"], expected, atol=1e-9)
