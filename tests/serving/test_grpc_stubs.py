"""The committed gRPC stubs are what grpcio-tools generates from the committed OIP .proto."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import modelyard

PACKAGE = Path(modelyard.__file__).parent
OIP = PACKAGE / "serving" / "protocol" / "oip"
GENERATED = (
    "open_inference_grpc_pb2.py",
    "open_inference_grpc_pb2.pyi",
    "open_inference_grpc_pb2_grpc.py",
)


def test_regenerating_the_stubs_gives_the_committed_files(tmp_path):
    src = tmp_path / "src"
    proto = src / "modelyard" / "serving" / "protocol" / "oip" / "open_inference_grpc.proto"
    proto.parent.mkdir(parents=True)
    shutil.copy(OIP / "open_inference_grpc.proto", proto)
    # the command of serving/protocol/oip/__init__.py, run as a user would run it
    out = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-Isrc", "--python_out=src",
         "--pyi_out=src", "--grpc_python_out=src", str(proto.relative_to(tmp_path))],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    for name in GENERATED:
        fresh = (proto.parent / name).read_text()
        assert fresh == (OIP / name).read_text(), f"{name} is stale: regenerate it"


def test_the_proto_travels_with_its_licence():
    text = (OIP / "open_inference_grpc.proto").read_text()
    assert "Licensed under the Apache License, Version 2.0" in text
    assert "Apache License" in (OIP / "LICENSE.open-inference-protocol").read_text()
    assert "service GRPCInferenceService" in text
