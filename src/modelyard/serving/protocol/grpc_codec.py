"""OIP v2 gRPC messages <-> numpy rows: ``ModelInferRequest`` in, ``ModelInferResponse`` out.

The gRPC twin of ``codec.py``: a request's tensors come either as typed ``contents`` (the
repeated field that matches the datatype) or as ``raw_input_contents`` (little-endian bytes,
Triton's layout, what ``tritonclient.grpc`` sends), and come down to the same 2-D array of rows
checked against the signature with the same checks and the same errors as a REST body: a
malformed, wrongly typed or non-finite tensor is a ``BadRequest``, too many rows a
``PayloadTooLarge``. The message's byte size is bounded before it is parsed, by gRPC itself
(``max_receive_message_length`` is the REST body limit). Answers go out as
``raw_output_contents``, as Triton answers, so that a client reads them without a copy.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from modelyard.serving.protocol.codec import (
    DATATYPES,
    MAX_RANK,
    InferRequest,
    _check_id,
    _rows_from_tensors,
    _too_many_rows,
    datatype_of,
    fit,
)
from modelyard.serving.protocol.errors import BadRequest
from modelyard.serving.protocol.oip import open_inference_grpc_pb2 as pb
from modelyard.serving.protocol.signature import Signature

CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
"""The ``InferTensorContents`` field that holds each datatype (FP16 has none: raw only)."""

_FIELD_DTYPES = {
    "bool_contents": np.dtype(np.bool_),
    "int_contents": np.dtype(np.int32),
    "int64_contents": np.dtype(np.int64),
    "uint_contents": np.dtype(np.uint32),
    "uint64_contents": np.dtype(np.uint64),
    "fp32_contents": np.dtype(np.float32),
    "fp64_contents": np.dtype(np.float64),
}


def decode_infer(
    request: pb.ModelInferRequest,
    sig: Signature,
    outputs: tuple[str, ...],
    max_rows: int | None = None,
) -> InferRequest:
    """Decode a ``ModelInferRequest`` into rows that match ``sig``."""
    if not request.inputs:
        raise BadRequest("'inputs' is empty: send at least one input tensor")
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise BadRequest(
            f"raw_input_contents holds {len(raw)} tensors for {len(request.inputs)} inputs; "
            "send one raw tensor per input, in the order of 'inputs', or none"
        )
    tensors: dict[str, np.ndarray] = {}
    for index, item in enumerate(request.inputs):
        name = item.name
        arr = _tensor(item, raw[index] if raw else None, max_rows)
        if name in tensors:
            raise BadRequest(f"input {name!r} is given twice")
        tensors[name] = arr
    for out in request.outputs:
        if out.name not in outputs:
            raise BadRequest(f"unknown output {out.name!r}; this model has {sorted(outputs)}")
    request_id = request.id or None
    if request_id is not None:
        _check_id(request_id)
    parameters = {key: _parameter(value) for key, value in request.parameters.items()}
    return InferRequest(_rows_from_tensors(tensors, sig), request_id, parameters)


def _tensor(
    item: pb.ModelInferRequest.InferInputTensor, raw: bytes | None, max_rows: int | None
) -> np.ndarray:
    name, datatype = item.name, item.datatype
    if not name:
        raise BadRequest("an input has no 'name'")
    shape = list(item.shape)
    if len(shape) > MAX_RANK or any(d < 0 for d in shape):
        raise BadRequest(
            f"input {name!r}: 'shape' must be a list of at most {MAX_RANK} non-negative integers"
        )
    if max_rows is not None and shape and shape[0] > max_rows:
        raise _too_many_rows(f"input {name!r}", shape[0], max_rows)
    if datatype not in DATATYPES:
        raise BadRequest(
            f"input {name!r}: unknown datatype {datatype!r}; use one of {list(DATATYPES)}"
        )
    filled = [f.name for f, _ in item.contents.ListFields()]
    if raw is not None:
        if filled:
            raise BadRequest(
                f"input {name!r} has both 'contents' and raw_input_contents; send one of them"
            )
        arr = _from_raw(raw, datatype, name)
    else:
        arr = _from_contents(item.contents, filled, datatype, name)
    size = math.prod(shape)
    if arr.size != size:
        raise BadRequest(f"input {name!r}: shape {shape} needs {size} values, data has {arr.size}")
    return arr.reshape(shape)


def _from_contents(
    contents: pb.InferTensorContents, filled: list[str], datatype: str, name: str
) -> np.ndarray:
    expected = CONTENTS_FIELD.get(datatype)
    if expected is None:
        raise BadRequest(f"input {name!r}: {datatype} has no typed contents; send it raw")
    wrong = [f for f in filled if f != expected]
    if wrong:
        raise BadRequest(
            f"input {name!r}: datatype {datatype} goes in contents.{expected}, not {wrong}"
        )
    values = getattr(contents, expected)
    if expected == "bytes_contents":
        return np.array([v.decode("utf-8", "replace") for v in values], dtype=object)
    source = np.array(values, dtype=_FIELD_DTYPES[expected])
    return fit(source, DATATYPES[datatype], f"input {name!r}", datatype)


def _from_raw(raw: bytes, datatype: str, name: str) -> np.ndarray:
    if datatype == "BYTES":
        return _bytes_tensor(raw, name)
    dt = DATATYPES[datatype].newbyteorder("<")
    if len(raw) % dt.itemsize:
        raise BadRequest(f"input {name!r}: {len(raw)} bytes is not a whole number of {datatype}")
    values = np.frombuffer(raw, dtype=dt)
    if datatype == "BOOL" and values.size and values.view(np.uint8).max() > 1:
        raise BadRequest(f"input {name!r}: a BOOL byte is neither 0 nor 1")
    return fit(values, DATATYPES[datatype], f"input {name!r}", datatype)


def _bytes_tensor(raw: bytes, name: str) -> np.ndarray:
    """Triton's BYTES layout: each element a 4-byte little-endian length, then its bytes."""
    items: list[str] = []
    pos = 0
    while pos < len(raw):
        if pos + 4 > len(raw):
            raise BadRequest(f"input {name!r}: BYTES data ends inside an element's length")
        (length,) = struct.unpack_from("<I", raw, pos)
        end = pos + 4 + length
        if end > len(raw):
            raise BadRequest(f"input {name!r}: a BYTES element runs past the end of the data")
        items.append(raw[pos + 4 : end].decode("utf-8", "replace"))
        pos = end
    return np.array(items, dtype=object)


def _parameter(value: pb.InferParameter) -> Any:
    choice = value.WhichOneof("parameter_choice")
    return getattr(value, choice) if choice is not None else None


def encode_infer(
    model: str, version: str, output: str, result: np.ndarray, request_id: str | None
) -> pb.ModelInferResponse:
    """A ``ModelInferResponse`` holding one output tensor as raw little-endian bytes."""
    response = pb.ModelInferResponse(model_name=model, model_version=version, id=request_id or "")
    datatype = datatype_of(result.dtype)
    response.outputs.add(name=output, datatype=datatype, shape=result.shape)
    response.raw_output_contents.append(raw_bytes(result, datatype))
    return response


def raw_bytes(result: np.ndarray, datatype: str) -> bytes:
    """A tensor's values as OIP raw contents (row-major, little-endian; BYTES length-prefixed)."""
    if datatype != "BYTES":
        return np.ascontiguousarray(result, dtype=result.dtype.newbyteorder("<")).tobytes()
    parts = []
    for value in result.ravel().tolist():
        data = value if isinstance(value, bytes) else str(value).encode("utf-8")
        parts.append(struct.pack("<I", len(data)))
        parts.append(data)
    return b"".join(parts)
