"""The ``toy`` MLflow flavor: ``log_model(weights, bias, name=..., signature=...)``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlflow.models import Model

FLAVOR = "toy"


def save_model(
    path: str,
    weights: list[float],
    bias: float,
    mlflow_model: Model | None = None,
    signature: Any = None,
    **_: Any,
) -> None:
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "weights.json").write_text(json.dumps({"w": weights, "b": bias}))
    model = mlflow_model or Model()
    if signature is not None:
        model.signature = signature
    model.add_flavor(FLAVOR, data="weights.json")
    model.save(str(folder / "MLmodel"))


def log_model(weights: list[float], bias: float, name: str = "model", **kwargs: Any) -> Any:
    import sys

    flavor = sys.modules[__name__]
    return Model.log(None, flavor, name=name, weights=weights, bias=bias, **kwargs)
