"""XGBoost and LightGBM models saved by MLflow with their scikit-learn wrapper class (or, for
LightGBM, a bare ``Booster``)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from modelyard.serving.runtimes.base import Runtime
from modelyard.serving.runtimes.sklearn import deserialize


class XGBoostRuntime(Runtime):
    """XGBoost's native model file, loaded into the wrapper class MLflow recorded."""

    flavors = ("xgboost",)

    def load_model(self, path: Path, conf: dict[str, Any]) -> Any:
        module, _, cls_name = str(conf.get("model_class", "")).rpartition(".")
        model = getattr(importlib.import_module(module), cls_name)()
        model.load_model(str(path / str(conf.get("data", "model.xgb"))))
        return model


class LightGBMRuntime(Runtime):
    """LightGBM: a ``Booster`` from its text file, or the pickled scikit-learn wrapper."""

    flavors = ("lightgbm",)

    def load_model(self, path: Path, conf: dict[str, Any]) -> Any:
        module = str(conf.get("model_class", "")).rpartition(".")[0]
        data = path / str(conf.get("data", "model.lgb"))
        if not module.startswith("lightgbm.sklearn"):
            import lightgbm  # type: ignore[import-not-found,unused-ignore]

            return lightgbm.Booster(model_file=str(data))
        return deserialize(data, conf, self.allow_pickle)
