"""OIP v2 and v1 over a real server: same answers as the model in process, clean 4xx errors."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

X_ROWS = 5


def test_v1_predict_matches_in_process(sk_server, sk_model):
    rows = sk_model.X[:X_ROWS]
    with sk_server.client() as client:
        r = client.post("/v1/models/ctr:predict", json={"instances": rows.tolist()})
    assert r.status_code == 200, r.text
    assert r.headers["x-model-version"] == "1"
    np.testing.assert_allclose(r.json()["predictions"], sk_model.model.predict_proba(rows))


def test_v2_infer_matches_in_process(sk_server, sk_model):
    rows = sk_model.X[:X_ROWS]
    body = {
        "id": "req-42",
        "inputs": [
            {
                "name": "input-0",
                "shape": [X_ROWS, 8],
                "datatype": "FP64",
                "data": rows.ravel().tolist(),
            }
        ],
    }
    with sk_server.client() as client:
        r = client.post("/v2/models/ctr/infer", json=body, headers={"x-request-id": "abc"})
        nested = dict(body, inputs=[dict(body["inputs"][0], data=rows.tolist())])
        r2 = client.post("/v2/models/ctr/versions/1/infer", json=nested)
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"] == "abc"
    out = r.json()
    assert out["id"] == "req-42"
    assert out["model_name"] == "ctr"
    assert out["model_version"] == "1"
    (tensor,) = out["outputs"]
    assert tensor["name"] == "predict_proba"
    assert tensor["datatype"] == "FP64"
    assert tensor["shape"] == [X_ROWS, 2]
    expected = sk_model.model.predict_proba(rows)
    np.testing.assert_allclose(np.reshape(tensor["data"], tensor["shape"]), expected)
    assert r2.status_code == 200
    np.testing.assert_allclose(np.reshape(r2.json()["outputs"][0]["data"], (X_ROWS, 2)), expected)


def test_v2_int_datatype_is_cast(sk_server, sk_model):
    body = {"inputs": [{"name": "input-0", "shape": [1, 8], "datatype": "INT64", "data": [1] * 8}]}
    with sk_server.client() as client:
        r = client.post("/v2/models/ctr/infer", json=body)
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(
        r.json()["outputs"][0]["data"], sk_model.model.predict_proba(np.ones((1, 8))).ravel()
    )


def test_health_and_metadata(sk_server):
    with sk_server.client() as client:
        assert client.get("/v2/health/live").status_code == 200
        assert client.get("/v2/health/ready").status_code == 200
        assert client.get("/v2/models/ctr/ready").status_code == 200
        assert client.get("/v2/models/ctr/versions/1/ready").status_code == 200
        server = client.get("/v2").json()
        assert server["name"] == "modelyard"
        assert "extensions" in server
        meta = client.get("/v2/models/ctr").json()
    assert meta["name"] == "ctr"
    assert meta["versions"] == ["1"]
    assert meta["platform"] == "sklearn"
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 8]}]
    assert meta["outputs"] == [{"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]}]


def test_tritonclient_works_unchanged(sk_server, sk_model):
    import tritonclient.http as httpclient

    rows = sk_model.X[:3].astype(np.float64)
    client = httpclient.InferenceServerClient(sk_server.url.removeprefix("http://"))
    try:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("ctr")
        assert client.get_model_metadata("ctr")["inputs"][0]["shape"] == [-1, 8]
        assert client.get_server_metadata()["name"] == "modelyard"
        for binary in (False, True):
            inp = httpclient.InferInput("input-0", list(rows.shape), "FP64")
            inp.set_data_from_numpy(rows, binary_data=binary)
            result = client.infer("ctr", [inp], request_id="t1")
            np.testing.assert_allclose(
                result.as_numpy("predict_proba"), sk_model.model.predict_proba(rows)
            )
            assert result.get_response()["id"] == "t1"
    finally:
        client.close()


def _v2(data, shape=(1, 8), datatype="FP64", name="input-0"):
    return {"inputs": [{"name": name, "shape": list(shape), "datatype": datatype, "data": data}]}


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v2/models/ctr/infer", b"{not json", 400),
        ("/v2/models/ctr/infer", b"[]", 400),
        ("/v2/models/ctr/infer", orjson.dumps({"inputs": []}), 400),
        ("/v2/models/ctr/infer", orjson.dumps(_v2([0.0] * 7, shape=(1, 7))), 400),
        ("/v2/models/ctr/infer", orjson.dumps(_v2([0.0] * 8, shape=(2, 8))), 400),
        ("/v2/models/ctr/infer", orjson.dumps(_v2([0.0] * 8, shape=(8,))), 400),
        ("/v2/models/ctr/infer", orjson.dumps(_v2(["a"] * 8, datatype="FP64")), 400),
        ("/v2/models/ctr/infer", orjson.dumps(_v2(["a"] * 8, datatype="BYTES")), 400),
        ("/v2/models/ctr/infer", orjson.dumps(_v2([0.5] * 8, datatype="FP99")), 400),
        ("/v2/models/ctr/infer", orjson.dumps(_v2([[0.5] * 8, [1.0]], shape=(2, 8))), 400),
        ("/v2/models/ctr/infer", orjson.dumps(_v2([0.5] * 8, name="x")), 400),
        ("/v2/models/ctr/infer", orjson.dumps(_v2([True] * 8, datatype="FP64")), 400),
        (
            "/v2/models/ctr/infer",
            orjson.dumps({**_v2([0.0] * 8), "outputs": [{"name": "nope"}]}),
            400,
        ),
        ("/v2/models/nope/infer", orjson.dumps(_v2([0.0] * 8)), 404),
        ("/v2/models/ctr/versions/9/infer", orjson.dumps(_v2([0.0] * 8)), 404),
        ("/v1/models/ctr:predict", b"nope", 400),
        ("/v1/models/ctr:predict", orjson.dumps({"instances": [[1.0] * 3]}), 400),
        ("/v1/models/ctr:predict", orjson.dumps({"instances": [[1.0] * 8, [2.0]]}), 400),
        ("/v1/models/ctr:predict", orjson.dumps({"instances": [["x"] * 8]}), 400),
        ("/v1/models/ctr:predict", orjson.dumps({"rows": []}), 400),
        ("/v1/models/other:predict", orjson.dumps({"instances": [[1.0] * 8]}), 404),
    ],
)
def test_bad_requests_get_4xx_json(sk_server, path, body, status):
    with sk_server.client() as client:
        r = client.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert isinstance(r.json()["error"], str)
    assert r.json()["error"]


@pytest.mark.parametrize(
    "path", ["/v2/models/nope", "/v2/models/nope/ready", "/v2/models/ctr/versions/7", "/nowhere"]
)
def test_unknown_paths_get_404_json(sk_server, path):
    with sk_server.client() as client:
        r = client.get(path)
    assert r.status_code == 404
    assert "error" in r.json()


def test_metrics_and_openapi(sk_server):
    with sk_server.client() as client:
        client.post("/v1/models/ctr:predict", json={"instances": [[0.0] * 8]})
        text = client.get("/metrics").text
        doc = client.get("/openapi.json").json()
    assert 'modelyard_requests_total{code="200",model="ctr",role="primary",version="1"}' in text
    assert "modelyard_request_duration_seconds_bucket" in text
    assert "modelyard_inference_duration_seconds_bucket" in text
    assert 'modelyard_model_ready{model="ctr",role="primary",version="1"} 1.0' in text
    assert "modelyard_in_flight" in text
    assert doc["openapi"].startswith("3.")
    assert "/v2/models/{name}/infer" in doc["paths"]
