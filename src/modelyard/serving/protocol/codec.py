"""Request and response bodies of the two protocols, decoded with orjson into numpy arrays.

Open Inference Protocol v2 (``inputs``/``outputs`` tensors, with Triton's binary tensor data
extension on input) and the v1 ``{"instances": [...]}`` API both come down to one 2-D array of
rows checked against the model's signature. Every malformed payload raises ``BadRequest``:
values must fit the declared datatype and, for floating types, be finite once cast (1e300 is
no FP32), checked with vectorised numpy so that the one-row fast path stays cheap. Row counts
are checked against ``max_rows`` from the parsed header, before any array is built.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from modelyard.serving.protocol.errors import BadRequest, PayloadTooLarge
from modelyard.serving.protocol.limits import MAX_REQUEST_ID_CHARS
from modelyard.serving.protocol.signature import Signature

DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
_ACCEPTED_KINDS = {"b": "b", "u": "iu", "i": "iu", "f": "iuf", "O": "USO"}
MAX_RANK = 8
"""Most dimensions an input tensor may have."""
VALUES_PER_ROW_UNKNOWN = 256
"""Values per row assumed, for the value budget, when the signature does not fix them."""


def datatype_of(dtype: np.dtype[Any] | str | None) -> str:
    """The OIP datatype name of a numpy dtype (``BYTES`` for strings and objects)."""
    if dtype is None:
        return "FP64"
    dt = np.dtype(dtype)
    for name, candidate in DATATYPES.items():
        if dt == candidate:
            return name
    return "BYTES"


@dataclass(frozen=True)
class InferRequest:
    """A decoded v2 request: the rows to predict plus what must be echoed back."""

    rows: np.ndarray
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from exc


def decode_v2(
    body: bytes,
    sig: Signature,
    outputs: tuple[str, ...],
    header_length: int | None = None,
    max_rows: int | None = None,
) -> InferRequest:
    """Decode an OIP v2 inference request into rows that match ``sig``."""
    header = body[:header_length] if header_length is not None else body
    _check_values(header, sig, max_rows)
    payload = _json(header)
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise BadRequest("the request must be a JSON object with an 'inputs' list")
    if not payload["inputs"]:
        raise BadRequest("'inputs' is empty: send at least one input tensor")
    binary = memoryview(body)[header_length:] if header_length is not None else None
    tensors: dict[str, np.ndarray] = {}
    offset = 0
    for item in payload["inputs"]:
        name, arr, used = _tensor(item, binary, offset, max_rows)
        offset += used
        if name in tensors:
            raise BadRequest(f"input {name!r} is given twice")
        tensors[name] = arr
    _check_outputs(payload.get("outputs"), outputs)
    request_id = payload.get("id")
    parameters = payload.get("parameters") or {}
    if request_id is not None:
        _check_id(request_id)
    if not isinstance(parameters, dict):
        raise BadRequest("'parameters' must be an object")
    return InferRequest(_rows_from_tensors(tensors, sig), request_id, parameters)


def _check_id(request_id: Any) -> None:
    # the body's id becomes the request id (a response header, the prediction log's key)
    if not isinstance(request_id, str):
        raise BadRequest("'id' must be a string")
    if len(request_id) > MAX_REQUEST_ID_CHARS:
        raise BadRequest(
            f"'id' is {len(request_id):,} characters; send at most {MAX_REQUEST_ID_CHARS}"
        )
    if not request_id.isprintable():
        raise BadRequest("'id' holds control characters; send printable text")


def _tensor(
    item: Any, binary: memoryview | None, offset: int, max_rows: int | None
) -> tuple[str, np.ndarray, int]:
    if not isinstance(item, dict):
        raise BadRequest("each input must be an object with name, shape, datatype and data")
    name, shape, datatype = item.get("name"), item.get("shape"), item.get("datatype")
    if not isinstance(name, str):
        raise BadRequest("an input has no 'name' string")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_RANK
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise BadRequest(
            f"input {name!r}: 'shape' must be a list of at most {MAX_RANK} non-negative integers"
        )
    if max_rows is not None and shape and shape[0] > max_rows:
        raise _too_many_rows(f"input {name!r}", shape[0], max_rows)
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise BadRequest(
            f"input {name!r}: unknown datatype {datatype!r}; use one of {list(DATATYPES)}"
        )
    size = math.prod(shape)
    params = item.get("parameters") or {}
    used = 0
    if isinstance(params, dict) and "binary_data_size" in params:
        used = params["binary_data_size"]
        if not isinstance(used, int) or isinstance(used, bool) or used < 0:
            raise BadRequest(f"input {name!r}: binary_data_size must be a non-negative integer")
        if binary is None or offset + used > len(binary):
            raise BadRequest(f"input {name!r}: binary data is shorter than binary_data_size")
        arr = _from_binary(binary[offset : offset + used], datatype, name)
    elif "data" in item:
        arr = _from_json(item["data"], datatype, name)
    else:
        raise BadRequest(f"input {name!r} has no 'data'")
    if arr.size != size:
        raise BadRequest(f"input {name!r}: shape {shape} needs {size} values, data has {arr.size}")
    return name, arr.reshape(shape), used


def _from_json(data: Any, datatype: str, name: str) -> np.ndarray:
    try:
        raw = np.asarray(data if isinstance(data, list) else [data])
    except ValueError as exc:
        raise BadRequest(f"input {name!r}: data is ragged or malformed: {exc}") from exc
    target = DATATYPES[datatype]
    if raw.size and raw.dtype.kind not in _ACCEPTED_KINDS[target.kind]:
        raise BadRequest(
            f"input {name!r}: data of kind {raw.dtype} does not fit datatype {datatype}"
        )
    return fit(raw.ravel(), target, f"input {name!r}", datatype)


def _from_binary(buf: memoryview, datatype: str, name: str) -> np.ndarray:
    if datatype != "BYTES":
        dt = DATATYPES[datatype].newbyteorder("<")
        if len(buf) % dt.itemsize:
            raise BadRequest(
                f"input {name!r}: {len(buf)} bytes is not a whole number of {datatype}"
            )
        raw = np.frombuffer(buf, dtype=dt)
        return fit(raw, DATATYPES[datatype], f"input {name!r}", datatype)
    items: list[str] = []
    pos = 0
    while pos + 4 <= len(buf):
        (length,) = struct.unpack_from("<I", buf, pos)
        items.append(bytes(buf[pos + 4 : pos + 4 + length]).decode("utf-8", "replace"))
        pos += 4 + length
    return np.array(items, dtype=object)


def _check_values(text: bytes, sig: Signature, max_rows: int | None) -> None:
    """413 before parsing when the JSON holds far more values than ``max_rows`` rows can.

    Parsing builds a Python object per value (a 15 MiB body of one wide row is 4 million floats
    and 130 MB that the allocator keeps), so the values are counted first: separators are an
    upper bound on them (one C call), given twice the room a full request needs.
    """
    if max_rows is None:
        return
    budget = 2 * max_rows * (sig.features or VALUES_PER_ROW_UNKNOWN) + 1024
    separators = text.count(b",")
    if separators > budget:
        raise PayloadTooLarge(
            f"the request holds about {separators:,} values, more than {max_rows:,} rows of "
            f"this model's inputs can (deploy.yaml request_limits.max_rows); split the request"
        )


def _too_many_rows(where: str, rows: int, max_rows: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{where} holds {rows:,} rows, above the limit of {max_rows:,} "
        "(deploy.yaml request_limits.max_rows); split the request"
    )


def fit(raw: np.ndarray, target: np.dtype[Any], where: str, datatype: str) -> np.ndarray:
    """``raw`` cast to ``target``, refusing values that overflow it or are not finite.

    A float that is not finite once cast (NaN, infinity, 1e300 as FP32) or an integer outside
    the target's range is the client's error, named with its position (flat, row-major).
    """
    kind = target.kind
    if kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            out = raw.astype(target, copy=False)
        finite = np.isfinite(out)
        if not finite.all():
            _refuse(raw, int(np.argmin(finite.ravel())), where, f"a finite {datatype}")
        return out
    if kind in "iu" and raw.size and raw.dtype != target:
        info = np.iinfo(target)
        low, high = raw.min(), raw.max()
        if low < info.min or high > info.max:
            position = int(np.argmax((raw < info.min) | (raw > info.max)))
            _refuse(raw, position, where, f"within {datatype}'s range {info.min}..{info.max}")
    return raw.astype(target, copy=False)


def _refuse(raw: np.ndarray, position: int, where: str, expected: str) -> None:
    value = raw.ravel()[position].item()
    index = np.unravel_index(position, raw.shape)
    at = f"row {index[0]}, column {index[1]}" if raw.ndim == 2 else f"position {position}"
    raise BadRequest(f"{where}: value {value!r} at {at} is not {expected}")


def _check_outputs(outputs: Any, known: tuple[str, ...]) -> None:
    if outputs is None:
        return
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise BadRequest("'outputs' must be a list of objects with a 'name'")
    for out in outputs:
        if out.get("name") not in known:
            raise BadRequest(f"unknown output {out.get('name')!r}; this model has {sorted(known)}")


def _rows_from_tensors(tensors: dict[str, np.ndarray], sig: Signature) -> np.ndarray:
    known = [spec.name for spec in sig.inputs]
    for name in tensors:
        if name not in known:
            raise BadRequest(f"unknown input {name!r}; this model takes {known}")
    if sig.columns is None:
        return check_rows(tensors[known[0]], sig)
    missing = [n for n in known if n not in tensors]
    if missing:
        raise BadRequest(f"missing inputs {missing}; this model takes {known}")
    cols = [
        tensors[n].reshape(len(tensors[n]), -1) if tensors[n].ndim else tensors[n] for n in known
    ]
    if any(c.ndim != 2 or c.shape[1] != 1 for c in cols) or len({len(c) for c in cols}) != 1:
        raise BadRequest("column inputs must each have shape [N] or [N, 1] with the same N")
    return check_rows(np.concatenate([c.astype(object) for c in cols], axis=1), sig)


def check_rows(arr: np.ndarray, sig: Signature) -> np.ndarray:
    """Check a 2-D array of rows against the signature and cast it to the model's dtype."""
    if arr.ndim != 2:
        raise BadRequest(f"expected rows of shape [N, features], got shape {list(arr.shape)}")
    features = sig.features
    if features is not None and arr.shape[1] != features:
        raise BadRequest(f"each row must have {features} values, got {arr.shape[1]}")
    if arr.shape[0] == 0:
        raise BadRequest("the request has no rows")
    dtype = sig.dtype
    if dtype is None or dtype == "object" or arr.dtype == dtype:
        return arr
    target = np.dtype(dtype)
    if arr.dtype.kind not in _ACCEPTED_KINDS[target.kind]:
        raise BadRequest(f"values of type {arr.dtype} do not fit the model's input type {dtype}")
    if arr.dtype.kind in "biuf" and target.kind in "iuf":
        return fit(arr, target, "rows", datatype_of(target))
    return arr.astype(target)


def decode_v1(body: bytes, sig: Signature, max_rows: int | None = None) -> np.ndarray:
    """Decode ``{"instances": [[...], ...]}`` (or rows of objects keyed by column name)."""
    _check_values(body, sig, max_rows)
    payload = _json(body)
    instances = payload.get("instances") if isinstance(payload, dict) else None
    if not isinstance(instances, list) or not instances:
        raise BadRequest("the request must be a JSON object with a non-empty 'instances' list")
    if max_rows is not None and len(instances) > max_rows:
        raise _too_many_rows("'instances'", len(instances), max_rows)
    if sig.columns is not None and all(isinstance(row, dict) for row in instances):
        try:
            instances = [[row[c] for c in sig.columns] for row in instances]
        except KeyError as exc:
            raise BadRequest(f"an instance lacks column {exc}; columns are {sig.columns}") from exc
    try:
        arr = np.asarray(instances)
    except ValueError as exc:
        raise BadRequest(f"'instances' is ragged or malformed: {exc}") from exc
    if arr.dtype.kind not in "biufUO":
        raise BadRequest(f"'instances' holds values of unsupported type {arr.dtype}")
    return check_rows(arr, sig)


def _numpy(arr: np.ndarray) -> Any:
    return arr.tolist() if arr.dtype.kind in "OUS" else np.ascontiguousarray(arr)


def encode_v2(
    model: str, version: str, output: str, result: np.ndarray, request_id: str | None
) -> bytes:
    """An OIP v2 inference response holding one output tensor."""
    body: dict[str, Any] = {
        "model_name": model,
        "model_version": version,
        "outputs": [
            {
                "name": output,
                "shape": list(result.shape),
                "datatype": datatype_of(result.dtype),
                "data": _numpy(result.ravel()),
            }
        ],
    }
    if request_id is not None:
        body["id"] = request_id
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def encode_v1(result: np.ndarray) -> bytes:
    """A v1 ``{"predictions": [...]}`` response."""
    return orjson.dumps({"predictions": _numpy(result)}, option=orjson.OPT_SERIALIZE_NUMPY)
