"""ONNX Runtime, on one intra-op thread (the server runs one model call per core)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modelyard.serving.runtimes.base import Runtime


class OnnxRuntime(Runtime):
    flavors = ("onnx",)

    def load_model(self, path: Path, conf: dict[str, Any]) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(
            str(path / str(conf.get("data", "model.onnx"))),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self._input = session.get_inputs()[0]
        return session

    def call(self, model_input: Any) -> Any:
        dtype = {"tensor(float)": np.float32, "tensor(double)": np.float64}.get(self._input.type)
        feed = np.asarray(model_input, dtype=dtype) if dtype is not None else model_input
        outputs = self.model.run(None, {self._input.name: feed})
        # skl2onnx classifiers answer (label, probabilities); pick what the method asks for.
        if self.method == "predict_proba" and len(outputs) > 1:
            return _probabilities(outputs[1])
        return outputs[0]


def _probabilities(value: Any) -> np.ndarray:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        keys = list(value[0])
        return np.array([[row[k] for k in keys] for row in value])
    return np.asarray(value)
