"""PyTorch: a ``torch.export`` program (MLflow 3's default) or, where pickles are allowed,
a ``torch.save`` module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modelyard.serving.runtimes.base import PickleRefused, Runtime


class PytorchRuntime(Runtime):
    flavors = ("pytorch",)

    def load_model(self, path: Path, conf: dict[str, Any]) -> Any:
        import torch  # type: ignore[import-not-found,unused-ignore]

        data = path / str(conf.get("model_data", "data"))
        if (data / "model.pt2").exists():
            # MLflow 3's default: a torch.export program (no pickled Python objects).
            return torch.export.load(str(data / "model.pt2")).module()
        if not self.allow_pickle:
            raise PickleRefused(data / "model.pth", "torch.save (pickle)")
        model = torch.load(data / "model.pth", weights_only=False)
        model.eval()
        return model

    def call(self, model_input: Any) -> Any:
        import torch  # type: ignore[import-not-found,unused-ignore]

        with torch.no_grad():
            return self.model(torch.as_tensor(np.asarray(model_input, dtype=np.float32))).numpy()
