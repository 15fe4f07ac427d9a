"""The data plane's protections answer gRPC calls with the codes the OIP text implies: the rate
limit and size limits RESOURCE_EXHAUSTED, the open breaker and warm-up UNAVAILABLE, each with
``retry-after`` trailing metadata where REST sends the header; shared with REST, not copied."""

from __future__ import annotations

import grpc
import httpx
import numpy as np
import pytest
import serving_fakes
from serving_fakes import FlakyModel, GatedModel, write_model
from serving_harness import serve

from modelyard.serving import (
    BatchingOptions,
    BreakerOptions,
    ModelSource,
    RateLimitOptions,
    ServerOptions,
)
from modelyard.serving.protocol.limits import RequestLimits
from modelyard.serving.protocol.oip import open_inference_grpc_pb2 as pb
from modelyard.serving.protocol.oip.open_inference_grpc_pb2_grpc import GRPCInferenceServiceStub
from waiting import wait_until


def infer_message(rows: int = 1, features: int = 2, name: str = "m") -> pb.ModelInferRequest:
    message = pb.ModelInferRequest(model_name=name)
    message.inputs.add(name="input-0", datatype="FP64", shape=[rows, features])
    message.raw_input_contents.append(np.ones((rows, features)).astype("<f8").tobytes())
    return message


def call(stub, message, metadata=()) -> tuple[grpc.StatusCode, str, dict[str, str]]:
    try:
        _reply, rpc = stub.ModelInfer.with_call(message, metadata=metadata, timeout=30)
        return grpc.StatusCode.OK, "", dict(rpc.trailing_metadata() or ())
    except grpc.RpcError as exc:
        return exc.code(), exc.details(), dict(exc.trailing_metadata() or ())


@pytest.fixture
def channel_to():
    channels: list[grpc.Channel] = []

    def open_(running) -> GRPCInferenceServiceStub:
        channels.append(grpc.insecure_channel(f"127.0.0.1:{running.grpc_port}"))
        return GRPCInferenceServiceStub(channels[-1])

    yield open_
    for channel in channels:
        channel.close()


def test_rate_limit_is_resource_exhausted_per_client(tmp_path, channel_to):
    path = write_model(tmp_path / "m", FlakyModel(), features=2)
    options = ServerOptions(rate_limit=RateLimitOptions(rps=0.5, burst=1, per_client="X-Client"))
    serving_fakes.FAIL.clear()
    with serve(ModelSource("m", "1", path), options, grpc=True) as running:
        stub = channel_to(running)
        assert call(stub, infer_message(), [("x-client", "a")])[0] == grpc.StatusCode.OK
        code, details, trailing = call(stub, infer_message(), [("x-client", "a")])
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "rate limit" in details
        assert int(trailing["retry-after"]) >= 1
        assert call(stub, infer_message(), [("x-client", "b")])[0] == grpc.StatusCode.OK
        # REST shares the bucket: client a is still limited there
        r = httpx.post(f"{running.url}/v1/models/m:predict", json={"instances": [[1.0, 2.0]]},
                       headers={"x-client": "a"})  # fmt: skip
        assert r.status_code == 429
        text = httpx.get(f"{running.url}/metrics").text
    assert 'modelyard_rate_limited_total{model="m"} 2.0' in text


def test_open_breaker_is_unavailable_for_both_protocols(tmp_path, channel_to):
    path = write_model(tmp_path / "m", FlakyModel(), features=2)
    breaker = BreakerOptions(error_rate=0.5, min_requests=4, window=30, cooldown=60)
    options = ServerOptions(breaker=breaker, batching=BatchingOptions(enabled=False))
    serving_fakes.FAIL.clear()
    with serve(ModelSource("m", "1", path), options, grpc=True) as running:
        stub = channel_to(running)
        serving_fakes.FAIL.set()
        try:
            # the model's failures over gRPC are the model's fault: INTERNAL, and counted
            codes = [call(stub, infer_message())[0] for _ in range(4)]
            assert codes == [grpc.StatusCode.INTERNAL] * 4
        finally:
            serving_fakes.FAIL.clear()
        code, details, trailing = call(stub, infer_message())
        assert code == grpc.StatusCode.UNAVAILABLE
        assert "breaker" in details
        assert "retry-after" in trailing
        r = httpx.post(f"{running.url}/v1/models/m:predict", json={"instances": [[1.0, 2.0]]})
        assert r.status_code == 503  # the breaker gRPC opened is the one REST answers behind
        text = httpx.get(f"{running.url}/metrics").text
    assert 'modelyard_breaker_state{model="m"} 1.0' in text
    assert 'modelyard_grpc_requests_total{grpc_code="UNAVAILABLE",model="m"} 1.0' in text


def test_client_errors_never_open_the_breaker(tmp_path, channel_to):
    path = write_model(tmp_path / "m", FlakyModel(), features=2)
    breaker = BreakerOptions(error_rate=0.5, min_requests=4, window=30, cooldown=60)
    limits = RequestLimits(max_body_bytes=4096, max_rows=10)
    options = ServerOptions(breaker=breaker, request_limits=limits)
    serving_fakes.FAIL.clear()
    with serve(ModelSource("m", "1", path), options, grpc=True) as running:
        stub = channel_to(running)
        bad = [
            (infer_message(features=3), grpc.StatusCode.INVALID_ARGUMENT),
            (infer_message(rows=11), grpc.StatusCode.RESOURCE_EXHAUSTED),  # max_rows
            (infer_message(rows=300), grpc.StatusCode.RESOURCE_EXHAUSTED),  # max_body
            (infer_message(name="other"), grpc.StatusCode.NOT_FOUND),
        ]
        for _ in range(3):
            for message, expected in bad:
                assert call(stub, message)[0] == expected
        assert call(stub, infer_message())[0] == grpc.StatusCode.OK


def test_not_ready_until_warm(tmp_path, channel_to):
    path = write_model(tmp_path / "g", GatedModel(), features=2)
    serving_fakes.WARM.clear()
    source = ModelSource("g", "1", path)
    try:
        with serve(source, ServerOptions(), wait_ready=False, grpc=True) as running:
            stub = channel_to(running)
            assert stub.ServerLive(pb.ServerLiveRequest()).live
            assert not stub.ServerReady(pb.ServerReadyRequest()).ready
            assert not stub.ModelReady(pb.ModelReadyRequest(name="g")).ready
            code, _details, trailing = call(stub, infer_message(name="g"))
            assert code == grpc.StatusCode.UNAVAILABLE
            assert "retry-after" in trailing
            serving_fakes.WARM.set()
            wait_until(lambda: stub.ServerReady(pb.ServerReadyRequest()).ready, "ready", 30)
            assert stub.ModelReady(pb.ModelReadyRequest(name="g", version="1")).ready
            assert call(stub, infer_message(name="g"))[0] == grpc.StatusCode.OK
            with pytest.raises(grpc.RpcError) as missing:
                stub.ModelReady(pb.ModelReadyRequest(name="g", version="9"))
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        serving_fakes.WARM.set()
