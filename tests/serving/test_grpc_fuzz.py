"""Hypothesis over every field of ``ModelInferRequest``: no message gets INTERNAL or UNKNOWN
(each is answered, or refused as the client's fault), and a well-formed client on another
connection is answered correctly all the while."""

from __future__ import annotations

import math
import threading

import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving_fakes import BoundedModel, write_model
from serving_harness import serve

from modelyard.serving import ModelSource, ServerOptions
from modelyard.serving.protocol.codec import DATATYPES
from modelyard.serving.protocol.limits import RequestLimits
from modelyard.serving.protocol.oip import open_inference_grpc_pb2 as pb
from modelyard.serving.protocol.oip.open_inference_grpc_pb2_grpc import GRPCInferenceServiceStub

FEATURES = 4
LIMITS = RequestLimits(max_body_bytes=64 * 1024, max_rows=50)
ALLOWED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.NOT_FOUND,
}
ITEMSIZE = {name: max(dtype.itemsize, 1) for name, dtype in DATATYPES.items() if name != "BYTES"}

text = st.text(max_size=12)
names = st.one_of(st.sampled_from(["input-0", ""]), text)
datatypes = st.one_of(st.sampled_from([*DATATYPES, "FP128", ""]), text)
shapes = st.one_of(
    st.lists(st.integers(0, 6), min_size=2, max_size=2).map(lambda s: [s[0], FEATURES]),
    st.lists(st.integers(-3, 2**40), max_size=10),
)
floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
contents_fields = {
    "bool_contents": st.lists(st.booleans(), max_size=30),
    "int_contents": st.lists(st.integers(-(2**31), 2**31 - 1), max_size=30),
    "int64_contents": st.lists(st.integers(-(2**63), 2**63 - 1), max_size=30),
    "uint_contents": st.lists(st.integers(0, 2**32 - 1), max_size=30),
    "uint64_contents": st.lists(st.integers(0, 2**64 - 1), max_size=30),
    "fp32_contents": st.lists(st.floats(width=32), max_size=30),
    "fp64_contents": st.lists(floats, max_size=30),
    "bytes_contents": st.lists(st.binary(max_size=8), max_size=30),
}
parameters = st.dictionaries(
    text,
    st.one_of(
        st.builds(pb.InferParameter, bool_param=st.booleans()),
        st.builds(pb.InferParameter, int64_param=st.integers(-(2**63), 2**63 - 1)),
        st.builds(pb.InferParameter, string_param=text),
        st.builds(pb.InferParameter, double_param=floats),
        st.builds(pb.InferParameter, uint64_param=st.integers(0, 2**64 - 1)),
        st.just(pb.InferParameter()),
    ),
    max_size=3,
)


@st.composite
def tensors(draw):
    tensor = pb.ModelInferRequest.InferInputTensor(
        name=draw(names), datatype=draw(datatypes), shape=draw(shapes), parameters=draw(parameters)
    )
    for field in draw(st.lists(st.sampled_from(sorted(contents_fields)), max_size=2)):
        getattr(tensor.contents, field).extend(draw(contents_fields[field]))
    return tensor


@st.composite
def raw_blob(draw, tensor):
    """Random bytes: often exactly as many as the tensor's shape and datatype need."""
    size = math.prod(tensor.shape) if all(d >= 0 for d in tensor.shape) else 0
    fitting = size * ITEMSIZE.get(tensor.datatype, 1)
    if fitting <= 4096 and draw(st.booleans()):
        return draw(st.binary(min_size=fitting, max_size=fitting))
    if draw(st.integers(0, 20)) == 0:  # past the message limit: gRPC refuses it unparsed
        return b"\x00" * (LIMITS.max_body_bytes + draw(st.integers(0, 1024)))
    return draw(st.binary(max_size=64))


@st.composite
def near_valid(draw):
    """A well-formed request in one of the datatypes that fit the model, then maybe one field
    of it changed: the paths past the first check."""
    rows = draw(st.integers(1, 6))
    datatype = draw(st.sampled_from(["FP64", "FP32", "INT64", "INT32", "INT8", "UINT16"]))
    dtype = DATATYPES[datatype].newbyteorder("<")
    values = draw(st.lists(st.integers(-100, 100), min_size=rows * FEATURES,
                           max_size=rows * FEATURES))  # fmt: skip
    message = pb.ModelInferRequest(model_name="m", id=draw(st.one_of(st.just(""), text)))
    tensor = message.inputs.add(name="input-0", datatype=datatype, shape=[rows, FEATURES])
    if draw(st.booleans()):
        message.raw_input_contents.append(np.asarray(values).astype(dtype).tobytes())
    elif datatype.startswith("FP"):
        getattr(tensor.contents, f"{datatype.lower()}_contents").extend(values)
    elif datatype == "INT64":
        tensor.contents.int64_contents.extend(values)
    elif datatype == "UINT16":
        tensor.contents.uint_contents.extend(abs(v) for v in values)
    else:
        tensor.contents.int_contents.extend(values)
    change = draw(st.integers(0, 6))
    if change == 1:
        tensor.shape[draw(st.integers(0, 1))] = draw(st.integers(-2, 2**40))
    elif change == 2:
        tensor.datatype = draw(datatypes)
    elif change == 3:
        message.parameters["x"].CopyFrom(pb.InferParameter(string_param=draw(text)))
    elif change == 4:
        message.model_version = draw(st.sampled_from(["1", "2", "x"]))
    return message


@st.composite
def requests(draw):
    inputs = draw(st.lists(tensors(), max_size=3))
    message = pb.ModelInferRequest(
        model_name=draw(st.one_of(st.just("m"), text)),
        model_version=draw(st.sampled_from(["", "1", "2"])),
        id=draw(st.one_of(st.just(""), st.text(max_size=300))),
        parameters=draw(parameters),
        inputs=inputs,
    )
    for name in draw(st.lists(st.one_of(st.just("predict"), text), max_size=2)):
        message.outputs.add(name=name)
    if draw(st.booleans()):
        message.raw_input_contents.extend([draw(raw_blob(t)) for t in inputs])
        if draw(st.integers(0, 5)) == 0:
            message.raw_input_contents.append(draw(st.binary(max_size=16)))
    return message


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    path = write_model(tmp_path_factory.mktemp("fuzz") / "m", BoundedModel(), features=FEATURES)
    with serve(ModelSource("m", "1", path), ServerOptions(request_limits=LIMITS), grpc=True) as r:
        yield r


def well_formed(rows: np.ndarray) -> pb.ModelInferRequest:
    message = pb.ModelInferRequest(model_name="m")
    message.inputs.add(name="input-0", datatype="FP64", shape=rows.shape)
    message.raw_input_contents.append(rows.astype("<f8").tobytes())
    return message


def test_no_message_gets_internal_and_others_are_answered(fuzzed):
    stop, answers, failures = threading.Event(), [], []
    rows = np.arange(2 * FEATURES, dtype=float).reshape(2, FEATURES) / 10
    expected = np.tanh(rows).sum(axis=1)
    address = f"127.0.0.1:{fuzzed.grpc_port}"

    def steady() -> None:
        """A well-formed client on a connection of its own, all the while."""
        with grpc.insecure_channel(address) as channel:
            stub = GRPCInferenceServiceStub(channel)
            while not stop.is_set():
                try:
                    reply = stub.ModelInfer(well_formed(rows), timeout=30)
                except grpc.RpcError as exc:
                    failures.append(f"{exc.code()}: {exc.details()}")
                    continue
                got = np.frombuffer(reply.raw_output_contents[0], "<f8")
                if not np.array_equal(got, expected):
                    failures.append(f"wrong answer {got}")
                answers.append(got)

    @settings(
        max_examples=300,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(message=st.one_of(requests(), near_valid()))
    def fuzz(message: pb.ModelInferRequest) -> None:
        try:
            stub.ModelInfer(message, timeout=30)
            code, details = grpc.StatusCode.OK, ""
        except grpc.RpcError as exc:
            code, details = exc.code(), exc.details()
        assert code in {grpc.StatusCode.OK, *ALLOWED}, (code, details, message)
        seen.add(code)

    seen: set[grpc.StatusCode] = set()
    worker = threading.Thread(target=steady, daemon=True)
    worker.start()
    try:
        with grpc.insecure_channel(address) as channel:
            stub = GRPCInferenceServiceStub(channel)
            fuzz()
            assert stub.ServerLive(pb.ServerLiveRequest()).live
    finally:
        stop.set()
        worker.join(timeout=30)
    assert failures == []
    assert len(answers) > 0
    # the fuzz reached the model as well as each kind of refusal
    assert seen == {grpc.StatusCode.OK, *ALLOWED}
