"""``modelyard serve ctr --grpc-port P``: one real server process answers OIP v2 over HTTP and
gRPC on two ports, from one data plane (one set of counters)."""

from __future__ import annotations

from pathlib import Path

import grpc
import httpx
import numpy as np

from modelyard.backends.local.process import ServerProcess, free_port
from modelyard.serving.protocol.oip import open_inference_grpc_pb2 as pb
from modelyard.serving.protocol.oip.open_inference_grpc_pb2_grpc import GRPCInferenceServiceStub


def test_serve_with_grpc_port_answers_both_protocols(trained_workspace_dir: Path) -> None:
    rows = np.random.default_rng(5).normal(size=(4, 8))
    grpc_port = free_port()
    server = ServerProcess(trained_workspace_dir, "ctr", version=1, grpc_port=grpc_port)
    with server.running(), grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = GRPCInferenceServiceStub(channel)
        assert stub.ServerReady(pb.ServerReadyRequest(), timeout=30).ready
        message = pb.ModelInferRequest(model_name="ctr", model_version="1", id="g-1")
        message.inputs.add(name="input-0", datatype="FP64", shape=rows.shape)
        message.raw_input_contents.append(rows.astype("<f8").tobytes())
        reply = stub.ModelInfer(message, timeout=30)
        body = {"inputs": [{"name": "input-0", "shape": [4, 8], "datatype": "FP64",
                            "data": rows.ravel().tolist()}]}  # fmt: skip
        with httpx.Client(base_url=server.url, timeout=30) as client:
            rest = client.post("/v2/models/ctr/infer", json=body).json()["outputs"][0]
            metrics = client.get("/metrics").text
    assert reply.id == "g-1"
    got = np.frombuffer(reply.raw_output_contents[0], "<f8").reshape(reply.outputs[0].shape)
    np.testing.assert_allclose(got, np.reshape(rest["data"], rest["shape"]), rtol=1e-12)
    assert 'modelyard_grpc_requests_total{grpc_code="OK",model="ctr"} 1.0' in metrics
    assert 'modelyard_requests_total{code="200",model="ctr",role="primary",version="1"} 2.0' in (
        metrics
    )
