"""Conversion of a scikit-learn model to ONNX at registration (``serving.format: onnx``).

The converted model is checked against the original on sample rows before it is registered:
a conversion that changes the answers beyond the tolerance is refused, never served.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.errors import ConfigError, TaskFailed
from modelyard.tracking import Tracking, load_sklearn, save_onnx

TOLERANCE = 1e-6
"""Largest absolute difference allowed between sklearn's and ONNX Runtime's outputs."""


class ConversionFailed(TaskFailed):
    """The model could not be converted to ONNX, or the conversion changed its answers."""


@dataclass(frozen=True)
class OnnxExport:
    """Where the converted model is, and how far its answers are from the original's."""

    source: str
    max_abs_diff: float
    rows_checked: int


def _rows(model_dir: Path, n_features: int) -> np.ndarray:
    example = model_dir / "input_example.json"
    rows = np.random.default_rng(0).normal(scale=2.0, size=(64, n_features))
    if example.exists():
        data = json.loads(example.read_text())
        saved = np.asarray(data.get("inputs", data) if isinstance(data, dict) else data, float)
        if saved.ndim == 2 and saved.shape[1] == n_features:
            rows = np.vstack([saved, rows])
    return rows


def _convert(estimator: Any, n_features: int) -> Any:
    try:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import DoubleTensorType
    except ImportError as exc:
        raise ConfigError(
            "serving.format: onnx needs skl2onnx and onnxruntime: pip install 'modelyard[onnx]'"
        ) from exc
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    try:
        return convert_sklearn(
            estimator,
            initial_types=[("input", DoubleTensorType([None, n_features]))],
            options={id(final): {"zipmap": False}} if hasattr(final, "predict_proba") else None,
        )
    except Exception as exc:  # skl2onnx raises many kinds for unsupported models
        raise ConversionFailed(
            f"skl2onnx cannot convert {type(estimator).__name__}: {exc}; "
            "set serving.format: native in model.yaml"
        ) from exc


def _run(onnx_model: Any, rows: np.ndarray, method: str) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(
        onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    outputs = session.run(None, {session.get_inputs()[0].name: rows})
    return np.asarray(outputs[1] if method == "predict_proba" and len(outputs) > 1 else outputs[0])


def export_onnx(tracking: Tracking, run_id: str, model_dir: Path, method: str) -> OnnxExport:
    """Convert the sklearn model in ``model_dir``, check it, and log it to the run."""
    estimator = load_sklearn(model_dir)
    n_features = int(getattr(estimator, "n_features_in_", 0))
    if n_features <= 0:
        raise ConversionFailed("the model does not say how many features it takes")
    onnx_model = _convert(estimator, n_features)
    rows = _rows(model_dir, n_features)
    expected = np.asarray(getattr(estimator, method)(rows))
    actual = _run(onnx_model, rows, method).reshape(expected.shape)
    diff = float(np.max(np.abs(actual.astype(float) - expected.astype(float))))
    if not diff <= TOLERANCE:
        raise ConversionFailed(
            f"the ONNX conversion answers differently from the sklearn model "
            f"(max abs difference {diff:.3g} > {TOLERANCE:g} on {len(rows)} rows); "
            "set serving.format: native in model.yaml"
        )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "onnx-model"
        save_onnx(onnx_model, model_dir, folder)
        source = tracking.log_folder(run_id, folder, "onnx-model")
    return OnnxExport(source=source, max_abs_diff=diff, rows_checked=len(rows))
