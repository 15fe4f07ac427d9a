"""An MLflow model's ``MLmodel`` file as the server needs it: flavors, signature, input example.

The signature decides what a request must look like (input names, dtype, trailing shape) and
gives the warm-up rows when the model's config names none. Tensor-based and column-based
signatures both map onto one 2-D input: rows by features.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from modelyard.serving.protocol.errors import ModelLoadError

_COLUMN_DTYPES = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
    "string": "object",
    "binary": "object",
    "datetime": "object",
}


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output: numpy dtype name (None: any) and shape (-1: any length)."""

    name: str
    dtype: str | None
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Signature:
    """The inputs a model takes. ``columns`` is set for column-based (DataFrame) models."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    columns: tuple[str, ...] | None = None

    @property
    def features(self) -> int | None:
        """Number of values per row, when the signature fixes it."""
        if self.columns is not None:
            return len(self.columns)
        shape = self.inputs[0].shape
        if len(shape) == 2 and shape[1] > 0:
            return shape[1]
        return None

    @property
    def dtype(self) -> str | None:
        """The one numpy dtype rows are converted to, or None when columns differ in type."""
        kinds = {spec.dtype for spec in self.inputs}
        return kinds.pop() if len(kinds) == 1 else "object"


ANY_SIGNATURE = Signature(
    inputs=(TensorSpec("input-0", None, (-1, -1)),), outputs=(TensorSpec("output-0", None, (-1,)),)
)


@dataclass(frozen=True)
class MLModel:
    """The parsed ``MLmodel`` file of one model directory."""

    path: Path
    flavors: dict[str, dict[str, Any]]
    signature: Signature
    example: np.ndarray | None

    def flavor(self, name: str) -> dict[str, Any] | None:
        return self.flavors.get(name)


def read_mlmodel(path: Path) -> MLModel:
    """Parse ``<path>/MLmodel``; raises ``ModelLoadError`` naming the file when it is unusable."""
    file = path / "MLmodel"
    try:
        # libyaml's safe loader where PyYAML has it: the pure-Python one took ~40 % of a
        # pooled model's reload (it is read at load and again for the warm-up rows)
        raw = yaml.load(file.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
    except (OSError, yaml.YAMLError) as exc:
        raise ModelLoadError(f"{file}: cannot read the MLmodel file: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("flavors"), dict):
        raise ModelLoadError(f"{file}: no 'flavors' mapping; is this an MLflow model directory?")
    signature = _signature(file, raw.get("signature"))
    return MLModel(path, raw["flavors"], signature, _example(path, raw))


def _signature(file: Path, raw: Any) -> Signature:
    if not isinstance(raw, dict) or not raw.get("inputs"):
        return ANY_SIGNATURE
    try:
        inputs = json.loads(raw["inputs"])
        outputs = json.loads(raw["outputs"]) if raw.get("outputs") else []
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{file}: signature is not valid JSON: {exc}") from exc
    if all(spec.get("type") == "tensor" for spec in inputs):
        if len(inputs) != 1:
            raise ModelLoadError(f"{file}: only single-tensor signatures are served, not {inputs}")
        return Signature((_tensor(inputs[0], "input-0"),), _outputs(outputs))
    columns = tuple(str(spec.get("name", f"c{i}")) for i, spec in enumerate(inputs))
    specs = tuple(
        TensorSpec(name, _COLUMN_DTYPES.get(str(spec.get("type")), "object"), (-1,))
        for name, spec in zip(columns, inputs, strict=True)
    )
    return Signature(specs, _outputs(outputs), columns)


def _tensor(spec: dict[str, Any], default_name: str) -> TensorSpec:
    tensor = spec.get("tensor-spec", {})
    return TensorSpec(
        str(spec.get("name") or default_name),
        str(np.dtype(tensor.get("dtype", "float64"))),
        tuple(int(d) for d in tensor.get("shape", (-1, -1))),
    )


def _outputs(outputs: list[dict[str, Any]]) -> tuple[TensorSpec, ...]:
    if len(outputs) == 1 and outputs[0].get("type") == "tensor":
        return (_tensor(outputs[0], "output-0"),)
    return ANY_SIGNATURE.outputs


def _example(path: Path, raw: dict[str, Any]) -> np.ndarray | None:
    """The saved input example as rows, when it is a plain ndarray or split-orient frame."""
    info = raw.get("saved_input_example_info")
    if not isinstance(info, dict) or "artifact_path" not in info:
        return None
    try:
        data = json.loads((path / str(info["artifact_path"])).read_text())
    except (OSError, ValueError):
        return None
    if isinstance(data, dict):
        data = data.get("inputs", data.get("instances", data.get("data")))
    try:
        rows = np.asarray(data)
    except (TypeError, ValueError):
        return None
    return rows if rows.ndim == 2 else None


def generated_rows(signature: Signature, count: int = 1) -> np.ndarray:
    """Warm-up rows made from the signature alone: zeros (or empty strings) of the right type."""
    features = signature.features or 1
    dtype = signature.dtype or "float64"
    if dtype == "object":
        return np.array([["" for _ in range(features)] for _ in range(count)], dtype=object)
    return np.zeros((count, features), dtype=dtype)
