"""OIP v2 gRPC messages <-> rows: typed and raw contents decode alike, every malformed message
is the same ``BadRequest``/``PayloadTooLarge`` the REST codec raises, and each error's gRPC
code follows from its HTTP status."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from modelyard.errors import Conflict, ModelyardError
from modelyard.serving.protocol.errors import (
    BadRequest,
    InferenceError,
    ModelNotFound,
    NotReady,
    PayloadTooLarge,
    RateLimited,
    Shed,
    grpc_code_for,
)
from modelyard.serving.protocol.grpc_codec import decode_infer, encode_infer, raw_bytes
from modelyard.serving.protocol.oip import open_inference_grpc_pb2 as pb
from modelyard.serving.protocol.signature import Signature, TensorSpec

SIG = Signature((TensorSpec("input-0", "float64", (-1, 3)),), (TensorSpec("out", None, (-1,)),))
ROWS = np.array([[1.0, 2.0, 3.5], [-4.0, 0.25, 6.0]])
OUTPUTS = ("out",)


def request(datatype="FP64", shape=(2, 3), raw=None, name="input-0", **contents):
    message = pb.ModelInferRequest(model_name="m", id="r-1")
    tensor = message.inputs.add(name=name, datatype=datatype, shape=shape)
    for field, values in contents.items():
        getattr(tensor.contents, field).extend(values)
    if raw is not None:
        message.raw_input_contents.append(raw)
    return message


def test_typed_and_raw_contents_decode_to_the_same_rows():
    typed = decode_infer(request(fp64_contents=ROWS.ravel()), SIG, OUTPUTS)
    raw = decode_infer(request(raw=ROWS.astype("<f8").tobytes()), SIG, OUTPUTS)
    np.testing.assert_array_equal(typed.rows, ROWS)
    np.testing.assert_array_equal(raw.rows, ROWS)
    assert typed.id == raw.id == "r-1"


@pytest.mark.parametrize(
    ("datatype", "field", "values"),
    [
        ("INT32", "int_contents", [1, 2, 3, 4, 5, 6]),
        ("INT8", "int_contents", [1, 2, 3, 4, 5, -6]),
        ("UINT64", "uint64_contents", [1, 2, 3, 4, 5, 6]),
        ("FP32", "fp32_contents", [1.5, 2, 3, 4, 5, 6]),
    ],
)
def test_other_datatypes_are_cast_to_the_signature(datatype, field, values):
    decoded = decode_infer(request(datatype, **{field: values}), SIG, OUTPUTS)
    assert decoded.rows.dtype == np.float64
    np.testing.assert_array_equal(decoded.rows.ravel(), np.asarray(values, dtype=float))


BAD = {
    "no inputs": (pb.ModelInferRequest(model_name="m"), BadRequest, "'inputs' is empty"),
    "unknown datatype": (request("FP128", fp64_contents=[1] * 6), BadRequest, "unknown datatype"),
    "negative shape": (request(shape=(-2, 3)), BadRequest, "non-negative"),
    "rank above 8": (request(shape=(1,) * 9), BadRequest, "at most 8"),
    "too few values": (request(fp64_contents=[1.0] * 5), BadRequest, "needs 6 values"),
    "wrong contents field": (request(int64_contents=[1] * 6), BadRequest, "fp64_contents"),
    "two contents fields": (
        request(fp64_contents=[1.0] * 6, int_contents=[1] * 6), BadRequest, "fp64_contents",
    ),
    "fp16 typed": (request("FP16", fp32_contents=[1.0] * 6), BadRequest, "send it raw"),
    "nan": (request(fp64_contents=[1, 2, float("nan"), 4, 5, 6]), BadRequest, "finite"),
    "fp32 infinity": (request("FP32", raw=np.full(6, np.inf, "<f4").tobytes()), BadRequest,
                      "finite FP32"),
    "bool for floats": (request("BOOL", bool_contents=[True] * 6), BadRequest, "do not fit"),
    "int8 out of range": (request("INT8", int_contents=[1, 2, 3, 4, 5, 300]), BadRequest, "range"),
    "raw not whole": (request(raw=b"\x00" * 47), BadRequest, "whole number"),
    "raw and typed": (request(raw=b"\x00" * 48, fp64_contents=[1.0] * 6), BadRequest, "both"),
    "bool byte 7": (request("BOOL", raw=b"\x07" * 6), BadRequest, "neither 0 nor 1"),
    "bytes past end": (request("BYTES", shape=(1,), raw=struct.pack("<I", 99) + b"ab"),
                       BadRequest, "past the end"),
    "bytes cut length": (request("BYTES", shape=(1,), raw=b"\x01\x00"), BadRequest, "length"),
    "unknown input": (request(name="x", fp64_contents=[1.0] * 6), BadRequest, "unknown input"),
    "no name": (request(name="", fp64_contents=[1.0] * 6), BadRequest, "no 'name'"),
    "wrong width": (request(shape=(3, 2), fp64_contents=[1.0] * 6), BadRequest, "3 values"),
    "too many rows": (request(shape=(10_001, 3)), PayloadTooLarge, "10,001 rows"),
    "control id": (pb.ModelInferRequest(id="a\x00b", inputs=request(fp64_contents=[0] * 6).inputs),
                   BadRequest, "control characters"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_messages_are_the_clients_error(case):
    message, error, words = BAD[case]
    with pytest.raises(error, match=words) as raised:
        decode_infer(message, SIG, OUTPUTS, max_rows=10_000)
    assert grpc_code_for(raised.value) in {"INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"}


def test_raw_inputs_must_match_the_inputs_one_to_one():
    message = request(raw=ROWS.astype("<f8").tobytes())
    message.raw_input_contents.append(b"")
    with pytest.raises(BadRequest, match="one raw tensor per input"):
        decode_infer(message, SIG, OUTPUTS)


def test_unknown_requested_output_is_refused():
    message = request(fp64_contents=ROWS.ravel())
    message.outputs.add(name="nope")
    with pytest.raises(BadRequest, match="unknown output"):
        decode_infer(message, SIG, OUTPUTS)


def test_answer_is_raw_little_endian_with_the_id():
    result = np.array([[0.25, 0.75], [1.0, 0.0]])
    response = encode_infer("m", "3", "out", result, "r-9")
    assert (response.model_name, response.model_version, response.id) == ("m", "3", "r-9")
    (tensor,) = response.outputs
    assert (tensor.name, tensor.datatype, list(tensor.shape)) == ("out", "FP64", [2, 2])
    got = np.frombuffer(response.raw_output_contents[0], "<f8").reshape(2, 2)
    np.testing.assert_array_equal(got, result)


def test_string_answers_are_length_prefixed():
    data = raw_bytes(np.array(["a", "bcd"], dtype=object), "BYTES")
    assert data == struct.pack("<I", 1) + b"a" + struct.pack("<I", 3) + b"bcd"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (BadRequest("x"), "INVALID_ARGUMENT"),
        (PayloadTooLarge("x"), "RESOURCE_EXHAUSTED"),
        (RateLimited("x", 1.0), "RESOURCE_EXHAUSTED"),
        (ModelNotFound("x"), "NOT_FOUND"),
        (Shed("x", "breaker_open", 1.0), "UNAVAILABLE"),
        (NotReady("x", 1.0), "UNAVAILABLE"),
        (Conflict("x"), "ABORTED"),
        (InferenceError("x"), "INTERNAL"),
        (ModelyardError("x"), "INTERNAL"),
        (RuntimeError("x"), "INTERNAL"),
    ],
)
def test_grpc_codes_follow_the_http_status(error, code):
    assert grpc_code_for(error) == code
