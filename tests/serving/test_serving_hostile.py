"""Hostile requests (issue 10, rows 5 and 6): client errors are 4xx and never count against the
model; over-limit requests get 413; a maximal request never holds up a normal one.

A real server on loopback. Ordering is shown with events, not timers: a maximal request is held
inside decoding or inside the model until the normal request sent meanwhile has its answer.
"""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from serving_fakes import write_model
from serving_harness import Running, serve

from modelyard.config import DeploySpec
from modelyard.serving import ModelSource, ServerOptions
from modelyard.serving.dataplane.breaker import CLOSED
from modelyard.serving.protocol.limits import RequestLimits
from modelyard.serving.rest import handlers as protocol_module

LIMITS = RequestLimits(max_body_bytes=2 * 2**20, max_rows=10_000)
NORMAL = {"instances": [[1.0, 2.0, 3.0, 4.0]]}
BIG_ROWS = 5_000
BIG_STARTED = threading.Event()
"""Set when the model (or decoding) starts on a maximal request."""
RELEASE = threading.Event()
"""Until set, the model (or decoding) holds a maximal request."""


class HoldsBigRequests:
    """Sums each row; a request of more than 100 rows waits for ``RELEASE``."""

    def predict(self, X: np.ndarray) -> np.ndarray:
        if len(X) > 100:
            BIG_STARTED.set()
            RELEASE.wait(timeout=60)
        return np.asarray(X, dtype=float).sum(axis=1)


@pytest.fixture(scope="module")
def held_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    path = write_model(tmp_path_factory.mktemp("held") / "m", HoldsBigRequests(), features=4)
    with serve(ModelSource("m", "1", path), ServerOptions(request_limits=LIMITS)) as running:
        yield running


def _v2(value: float, datatype: str = "FP32") -> dict[str, object]:
    data = [0.5] * 7 + [value]
    return {"inputs": [{"name": "input-0", "shape": [1, 8], "datatype": datatype, "data": data}]}


def test_out_of_range_values_are_400_and_leave_the_breaker_closed(
    sk_server: Running, sk_model: object
) -> None:
    with sk_server.client() as client:
        for _ in range(30):
            r = client.post("/v2/models/ctr/infer", json=_v2(1e300))
            assert r.status_code == 400
            assert r.json()["error"] == (
                "input 'input-0': value 1e+300 at position 7 is not a finite FP32"
            )
        assert client.post("/v2/models/ctr/infer", json=_v2(0.5)).status_code == 200
    plane = sk_server.app.state.plane
    assert plane.breaker.state == CLOSED
    assert plane.deployment.primary.stats.errors == 0  # the rollout's error rate


def test_non_finite_binary_data_is_400(sk_server: Running) -> None:
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [2, 8],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": 128},
                }
            ]
        }
    ).encode()
    values = [0.1] * 16
    values[11] = float("nan")
    body = header + struct.pack("<16d", *values)
    with sk_server.client() as client:
        r = client.post(
            "/v2/models/ctr/infer",
            content=body,
            headers={"inference-header-content-length": str(len(header))},
        )
    assert r.status_code == 400
    assert r.json()["error"] == "input 'input-0': value nan at position 11 is not a finite FP64"


@pytest.mark.parametrize(
    ("datatype", "value", "message"),
    [
        ("INT8", 300, "value 300 at position 7 is not within INT8's range -128..127"),
        ("FP16", 1e6, "value 1000000.0 at position 7 is not a finite FP16"),
        ("UINT8", -1, "value -1 at position 7 is not within UINT8's range 0..255"),
    ],
)
def test_values_that_do_not_fit_the_declared_datatype_are_400(
    sk_server: Running, datatype: str, value: float, message: str
) -> None:
    body = _v2(value, datatype)
    body["inputs"][0]["data"] = [1] * 7 + [value]  # type: ignore[index]
    with sk_server.client() as client:
        r = client.post("/v2/models/ctr/infer", json=body)
    assert r.status_code == 400
    assert r.json()["error"] == f"input 'input-0': {message}"


def test_request_limits_default_to_16_mib_and_10000_rows() -> None:
    limits = ServerOptions.from_deploy(DeploySpec()).request_limits
    assert limits == RequestLimits(max_body_bytes=16 * 2**20, max_rows=10_000)


def test_body_over_the_limit_is_413_then_a_normal_request_is_answered(
    held_server: Running,
) -> None:
    big = b'{"instances": [' + b"[1.0, 2.0, 3.0, 4.0]," * 120_000 + b"[1.0, 2.0, 3.0, 4.0]]}"
    assert len(big) > LIMITS.max_body_bytes

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is found while reading
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    with held_server.client() as client:
        for content in (big, chunks()):
            r = client.post("/v1/models/m:predict", content=content)
            assert r.status_code == 413
            assert "above the limit of 2,097,152" in r.json()["error"]
            assert client.post("/v1/models/m:predict", json=NORMAL).status_code == 200


def test_too_many_rows_is_413_before_arrays_are_built(held_server: Running) -> None:
    rows = [[1, 2, 3, 4]] * (LIMITS.max_rows + 1)
    v2 = {"inputs": [{"name": "input-0", "shape": [10_001, 4], "datatype": "FP64", "data": []}]}
    with held_server.client() as client:
        r = client.post("/v1/models/m:predict", json={"instances": rows})
        assert r.status_code == 413
        assert r.json()["error"] == (
            "'instances' holds 10,001 rows, above the limit of 10,000 "
            "(deploy.yaml request_limits.max_rows); split the request"
        )
        r = client.post("/v2/models/m/infer", json=v2)
        assert r.status_code == 413
        assert r.json()["error"].startswith("input 'input-0' holds 10,001 rows")
        assert client.post("/v1/models/m:predict", json=NORMAL).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"instances": ' + b"[" * 200 + b"1" + b"]" * 200 + b"}",
        json.dumps(
            {"inputs": [{"name": "input-0", "shape": [1] * 50, "datatype": "FP64"}]}
        ).encode(),
        json.dumps(
            {
                "inputs": [
                    {
                        "name": "input-0",
                        "shape": [1, 4],
                        "datatype": "FP64",
                        "parameters": {"binary_data_size": "lots"},
                    }
                ]
            }
        ).encode(),
    ],
    ids=["deep-json", "deep-array", "high-rank", "bad-binary-size"],
)
def test_malformed_bodies_are_400_not_500(held_server: Running, body: bytes) -> None:
    path = "/v2/models/m/infer" if body.startswith(b'{"inputs"') else "/v1/models/m:predict"
    with held_server.client() as client:
        r = client.post(path, content=body)
        assert r.status_code == 400, r.text
        assert client.post("/v1/models/m:predict", json=NORMAL).status_code == 200


def test_a_slow_client_does_not_hold_up_others(held_server: Running) -> None:
    import socket

    host, port = held_server.url.removeprefix("http://").split(":")
    slow = socket.create_connection((host, int(port)))
    try:
        slow.sendall(
            b"POST /v1/models/m:predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 1000\r\n\r\n" + b'{"instances": [[1.0, '
        )  # and never the rest
        with held_server.client() as client:
            assert client.post("/v1/models/m:predict", json=NORMAL).status_code == 200
    finally:
        slow.close()


def _held_request(running: Running, results: list[httpx.Response]) -> threading.Thread:
    body = {"instances": [[1.0, 2.0, 3.0, 4.0]] * BIG_ROWS}
    thread = threading.Thread(
        target=lambda: results.append(
            httpx.post(f"{running.url}/v1/models/m:predict", json=body, timeout=60)
        )
    )
    thread.start()
    return thread


def test_a_normal_request_is_answered_while_a_maximal_one_is_in_the_model(
    held_server: Running,
) -> None:
    BIG_STARTED.clear()
    RELEASE.clear()
    results: list[httpx.Response] = []
    thread = _held_request(held_server, results)
    try:
        assert BIG_STARTED.wait(timeout=30)
        with held_server.client() as client:
            r = client.post("/v1/models/m:predict", json=NORMAL)
        assert r.status_code == 200
        assert r.json() == {"predictions": [10.0]}
        assert not results  # the maximal request is still held in the model
    finally:
        RELEASE.set()
        thread.join(timeout=60)
    assert results[0].status_code == 200
    assert len(results[0].json()["predictions"]) == BIG_ROWS


def test_a_normal_request_is_answered_while_a_maximal_one_is_decoded(
    held_server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = protocol_module.decode_v1

    def held_decode(body: bytes, *args: object) -> np.ndarray:
        if len(body) > 64 * 1024:
            BIG_STARTED.set()
            RELEASE.wait(timeout=60)
        return original(body, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(protocol_module, "decode_v1", held_decode)
    BIG_STARTED.clear()
    RELEASE.clear()
    results: list[httpx.Response] = []
    thread = _held_request(held_server, results)
    try:
        assert BIG_STARTED.wait(timeout=30)  # the maximal request is being decoded
        with held_server.client() as client:
            assert client.post("/v1/models/m:predict", json=NORMAL).status_code == 200
        assert not results
    finally:
        RELEASE.set()
        thread.join(timeout=60)
    assert results[0].status_code == 200


def test_limits_come_from_deploy_yaml() -> None:
    deploy = DeploySpec.model_validate({"request_limits": {"max_body": "1Mi", "max_rows": 50}})
    assert ServerOptions.from_deploy(deploy).request_limits == RequestLimits(2**20, 50)


def test_a_body_of_far_more_values_than_max_rows_allow_is_413_before_parsing(
    held_server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelyard.serving.protocol import codec

    parsed: list[int] = []
    original = codec._json
    monkeypatch.setattr(codec, "_json", lambda body: parsed.append(len(body)) or original(body))
    wide = b'{"instances": [[' + b"0.1," * 200_000 + b"0.1]]}"  # 1 row, 200,001 values
    assert len(wide) < LIMITS.max_body_bytes
    with held_server.client() as client:
        r = client.post("/v1/models/m:predict", content=wide)
        assert r.status_code == 413
        assert "holds about 200,000 values" in r.json()["error"]
        assert parsed == []
        assert client.post("/v1/models/m:predict", json=NORMAL).status_code == 200
