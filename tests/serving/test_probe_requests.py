"""Probe findings of issue 20 on the server: wrongly typed OIP fields, unbounded request ids and
headers, and the OIP body ``id`` that the prediction log ignored.

Each test failed on the main branch before the fix (500s, a 100 KB id echoed back, a 100 KB
header accepted, zero prediction-log rows under the body's ids). A real server on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow.dataset as ds
import pytest
from serving_fakes import OffsetModel, write_model
from serving_harness import Running, serve

from modelyard.serving import ModelSource, PredictionLogOptions, ServerOptions
from modelyard.serving.rest.handlers import MAX_REQUEST_ID_CHARS
from waiting import wait_until


def _v2(datatype: object = "FP64", **extra: object) -> dict[str, object]:
    tensor = {"name": "input-0", "shape": [1, 2], "datatype": datatype, "data": [1.0, 2.0]}
    return {"inputs": [tensor], **extra}


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, object]]:
    root = tmp_path_factory.mktemp("probe")
    path = write_model(root / "m", OffsetModel(0.0), features=2)
    log_dir = root / "log"
    options = ServerOptions(
        prediction_log=PredictionLogOptions(directory=log_dir, flush_interval=0.1)
    )
    with serve(ModelSource("m", "1", path), options) as running:
        yield running, log_dir


@pytest.mark.parametrize("datatype", [{}, [], 3, None, True, {"FP32": 1}])
def test_a_datatype_that_is_not_a_string_is_400(logged, datatype) -> None:
    running, _ = logged
    with running.client() as client:
        r = client.post("/v2/models/m/infer", json=_v2(datatype))
    assert r.status_code == 400
    assert "datatype" in r.json()["error"]
    assert "use one of" in r.json()["error"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", {}), ("shape", {}), ("parameters", [1]), ("outputs", {}), ("id", {}), ("data", {})],
)
def test_other_wrongly_typed_fields_are_4xx(logged, field, value) -> None:
    running, _ = logged
    body = _v2()
    if field in ("name", "shape", "data"):
        body["inputs"][0][field] = value  # type: ignore[index]
    else:
        body[field] = value
    with running.client() as client:
        r = client.post("/v2/models/m/infer", json=body)
    assert r.status_code == 400, r.text


def test_a_request_id_header_over_the_bound_is_400_and_not_echoed(logged) -> None:
    running, _ = logged
    with running.client() as client:
        # 100 KB is over the header bound (431, below); 1,000 characters is over the id's
        r = client.post(
            "/v1/models/m:predict",
            json={"instances": [[1, 2]]},
            headers={"x-request-id": "x" * 100_000},
        )
        assert r.status_code == 431
        assert len(r.content) < 1_000
        r = client.post(
            "/v1/models/m:predict",
            json={"instances": [[1, 2]]},
            headers={"x-request-id": "x" * 1_000},
        )
        assert r.status_code == 400
        assert f"at most {MAX_REQUEST_ID_CHARS}" in r.json()["error"]
        assert len(r.content) < 1_000
        assert len(r.headers["x-request-id"]) <= MAX_REQUEST_ID_CHARS
        ok = "y" * MAX_REQUEST_ID_CHARS
        r = client.post(
            "/v1/models/m:predict", json={"instances": [[1, 2]]}, headers={"x-request-id": ok}
        )
        assert r.status_code == 200
        assert r.headers["x-request-id"] == ok


def test_a_body_id_over_the_bound_is_400(logged) -> None:
    running, _ = logged
    with running.client() as client:
        r = client.post("/v2/models/m/infer", json=_v2(id="z" * 10_000))
    assert r.status_code == 400
    assert "'id'" in r.json()["error"]
    assert len(r.content) < 1_000


@pytest.mark.parametrize("route", ["/v2/models/m/infer", "/v2/models/m", "/v2/health/ready"])
def test_a_100_kb_header_is_431(logged, route) -> None:
    running, _ = logged
    with running.client() as client:
        headers = {"x-padding": "p" * 100_000}
        if route.endswith("infer"):
            r = client.post(route, json=_v2(), headers=headers)
        else:
            r = client.get(route, headers=headers)
        assert r.status_code == 431
        assert "header" in r.json()["error"]
        # the server is still there for ordinary requests
        assert client.post("/v2/models/m/infer", json=_v2()).status_code == 200


def test_the_oip_id_is_the_request_id_when_no_header_is_sent(logged) -> None:
    running, log_dir = logged
    ids = [f"oip-{i}" for i in range(6)]
    with running.client() as client:
        for rid in ids:
            r = client.post("/v2/models/m/infer", json=_v2(id=rid))
            assert r.status_code == 200
            assert r.json()["id"] == rid
            assert r.headers["x-request-id"] == rid
        # the header wins for the log; the body's id is still echoed as OIP says
        r = client.post("/v2/models/m/infer", json=_v2(id="body"), headers={"x-request-id": "hdr"})
        assert r.headers["x-request-id"] == "hdr"
        assert r.json()["id"] == "body"
    wanted = {*ids, "hdr"}

    def logged() -> set[str]:
        if not (log_dir / "model=m").is_dir():
            return set()
        table = ds.dataset(log_dir / "model=m", format="parquet", partitioning="hive")
        return set(table.to_table().column("request_id").to_pylist())

    wait_until(  # the writer flushes every 0.1 s
        lambda: wanted <= logged(),
        lambda: f"every id to be logged; not logged: {sorted(wanted - logged())}",
        30,
        every_s=0.05,
    )
    logged_ids = logged()
    assert "hdr" in logged_ids
    assert "body" not in logged_ids
