"""``deploy.yaml`` ``grpc: true`` on the local backend: the supervisor's server answers OIP v2
over gRPC too, on a port it keeps in the server's launch spec."""

from __future__ import annotations

from pathlib import Path

import grpc
import httpx
import numpy as np
from rollout_harness import MODEL, register_base

from modelyard.backends.local.operations import deploy, down
from modelyard.backends.local.state import StateStore
from modelyard.config import load_workspace
from modelyard.serving.process.launch import read_spec
from modelyard.serving.protocol.oip import open_inference_grpc_pb2 as pb
from modelyard.serving.protocol.oip.open_inference_grpc_pb2_grpc import GRPCInferenceServiceStub
from modelyard.workflows.serve import spec_path


def test_a_grpc_deployment_answers_over_grpc(workspace_dir: Path, tmp_path: Path) -> None:
    deploy_yaml = workspace_dir / "models" / MODEL / "deploy.yaml"
    deploy_yaml.write_text(deploy_yaml.read_text() + "\ngrpc: true\n")
    workspace = load_workspace(workspace_dir)
    assert workspace.model(MODEL).deploy.grpc
    version = register_base(workspace, tmp_path)
    rows = np.random.default_rng(2).normal(size=(3, 8))
    try:
        deploy(workspace, MODEL, version)
        port = read_spec(spec_path(workspace, f"{MODEL}.server")).grpc_port
        assert port is not None
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = GRPCInferenceServiceStub(channel)
            assert stub.ModelReady(pb.ModelReadyRequest(name=MODEL), timeout=30).ready
            message = pb.ModelInferRequest(model_name=MODEL)
            message.inputs.add(name="input-0", datatype="FP64", shape=rows.shape)
            message.raw_input_contents.append(rows.astype("<f8").tobytes())
            reply = stub.ModelInfer(message, timeout=30)
        http_port = StateStore.for_workspace(workspace).get_deployment(MODEL).port
        rest = httpx.post(
            f"http://127.0.0.1:{http_port}/v1/models/{MODEL}:predict",
            json={"instances": rows.tolist()}, timeout=30,
        )  # fmt: skip
    finally:
        down(workspace)
    assert reply.model_version == str(version)
    got = np.frombuffer(reply.raw_output_contents[0], "<f8").reshape(reply.outputs[0].shape)
    np.testing.assert_allclose(got, np.asarray(rest.json()["predictions"]), rtol=1e-12)
