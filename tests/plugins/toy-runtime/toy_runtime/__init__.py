"""A toy framework served by modelyard through its runtime entry point: a linear model whose
weights are a JSON file in the MLflow model directory (flavor ``toy``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.serving.runtimes import Runtime


class ToyRuntime(Runtime):
    flavors = ("toy",)

    def load_model(self, path: Path, conf: dict[str, Any]) -> Any:
        weights = json.loads((path / str(conf["data"])).read_text())
        return np.asarray(weights["w"], dtype=np.float64), float(weights["b"])

    def call(self, model_input: Any) -> Any:
        w, b = self.model
        return (np.asarray(model_input, dtype=np.float64) @ w + b).reshape(-1, 1)
