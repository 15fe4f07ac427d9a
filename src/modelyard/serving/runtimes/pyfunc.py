"""The fallback for any other flavor: MLflow's generic ``python_function`` loader (through
``modelyard.tracking``, the one module that imports mlflow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelyard.serving.runtimes.base import PickleRefused, Runtime


class PyfuncRuntime(Runtime):
    """Fallback for any other flavor: MLflow's generic ``python_function`` loader."""

    flavors = ("python_function",)

    def load_model(self, path: Path, conf: dict[str, Any]) -> Any:
        if not self.allow_pickle:
            raise PickleRefused(path, "MLflow pyfunc (cloudpickle)")
        from modelyard.tracking import load_pyfunc  # type: ignore[attr-defined,unused-ignore]

        return load_pyfunc(path)

    def call(self, model_input: Any) -> Any:
        return self.model.predict(model_input)
