"""Test models for the serving tests: ones that fail on demand or warm up only when told.

They are pickled by reference into hand-written MLflow ``sklearn``-flavor directories, so the
server (running in this process) loads them through the real sklearn runtime.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cloudpickle
import numpy as np
import yaml

FAIL = threading.Event()
"""While set, ``FlakyModel`` raises."""
WARM = threading.Event()
"""Until set, ``GatedModel.predict`` blocks (a model that is slow to warm up)."""


class FlakyModel:
    def predict(self, X: np.ndarray) -> np.ndarray:
        if FAIL.is_set():
            raise RuntimeError("injected failure")
        return np.asarray(X, dtype=float).sum(axis=1)


class GatedModel:
    def predict(self, X: np.ndarray) -> np.ndarray:
        WARM.wait(timeout=60)
        return np.asarray(X, dtype=float).sum(axis=1)


class OffsetModel:
    """Sums the row and adds ``offset``: two offsets make two diverging versions."""

    def __init__(self, offset: float = 0.0, fail: bool = False) -> None:
        self.offset = offset
        self.fail = fail

    def predict(self, X: np.ndarray) -> np.ndarray:
        if self.fail:
            raise RuntimeError("shadow failure")
        return np.asarray(X, dtype=float).sum(axis=1) + self.offset


def write_model(path: Path, model: object, features: int = 4) -> Path:
    """An MLflow-style model directory (sklearn flavor, tensor signature) holding ``model``."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "model.pkl").write_bytes(cloudpickle.dumps(model))
    spec = (
        f'[{{"type": "tensor", "tensor-spec": {{"dtype": "float64", "shape": [-1, {features}]}}}}]'
    )
    mlmodel = {
        "flavors": {
            "sklearn": {"pickled_model": "model.pkl", "serialization_format": "cloudpickle"}
        },
        "signature": {"inputs": spec, "outputs": None},
    }
    (path / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    return path


class BoundedModel:
    """Answers any finite rows without raising or warning (tanh keeps every sum finite): a model
    for fuzzing the wire, where any error must come from the request's checks."""

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.tanh(np.asarray(X, dtype=float)).sum(axis=1)
