"""Fault injection for rollouts: register variants of a served version that misbehave.

A platform has to show that its safety nets catch what they are for; the demo, the rollout
benchmark and the tests use these variants of a real registered version:

- ``clone``: the same model again (a rollout that should pass every check);
- ``errors``: raises on a share of calls (the canary error-rate check catches it);
- ``diverge``: answers ``1 - p`` (the shadow divergence check catches it);
- ``unloadable``: its model file is garbage, registered with a correct checksum (the load fails).

Variants are sklearn models pickled with cloudpickle; the wrappers live here so that the model
server can import them by name.
"""

from __future__ import annotations

import random
import shutil
import uuid
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from modelyard.config import Workspace
from modelyard.registry import Registry

Fault = Literal["clone", "errors", "diverge", "unloadable"]


class FailingModel:
    """Raises on ``share`` of its calls after the first ``spare`` (so that it passes warm-up
    and is loaded: the fault shows on live traffic), otherwise answers as ``inner``."""

    def __init__(self, inner: Any, share: float, seed: int = 0, spare: int = 20) -> None:
        self.inner = inner
        self.share = share
        self.spare = spare
        self._calls = 0
        self._random = random.Random(seed)

    def _maybe_fail(self) -> None:
        self._calls += 1
        if self._calls > self.spare and self._random.random() < self.share:
            raise RuntimeError("injected fault: this version fails some requests")

    def predict(self, rows: Any) -> Any:
        self._maybe_fail()
        return self.inner.predict(rows)

    def predict_proba(self, rows: Any) -> Any:
        self._maybe_fail()
        return self.inner.predict_proba(rows)


class DivergingModel:
    """Answers the opposite of ``inner``: classes swapped, probabilities ``1 - p``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def predict(self, rows: Any) -> Any:
        return 1 - np.asarray(self.inner.predict(rows))

    def predict_proba(self, rows: Any) -> Any:
        return np.asarray(self.inner.predict_proba(rows))[:, ::-1]


def _load_sklearn(path: Path, conf: dict[str, Any]) -> Any:
    file = path / str(conf.get("pickled_model", "model.pkl"))
    fmt = conf.get("serialization_format", "cloudpickle")
    if fmt == "skops":
        import skops.io  # type: ignore[import-not-found,import-untyped,unused-ignore]

        return skops.io.load(file, trusted=conf.get("skops_trusted_types"))
    import cloudpickle

    with file.open("rb") as fh:
        return cloudpickle.load(fh)


def _rewrite(folder: Path, model: Any) -> None:
    """Replace the folder's sklearn model by ``model``, pickled with cloudpickle."""
    import cloudpickle

    mlmodel = folder / "MLmodel"
    doc = yaml.safe_load(mlmodel.read_text())
    conf = doc["flavors"]["sklearn"]
    (folder / str(conf.get("pickled_model", "model.pkl"))).unlink(missing_ok=True)
    conf.update(pickled_model="model.pkl", serialization_format="cloudpickle")
    conf.pop("skops_trusted_types", None)
    with (folder / "model.pkl").open("wb") as fh:
        cloudpickle.dump(model, fh)
    mlmodel.write_text(yaml.safe_dump(doc, sort_keys=False))


def register_variant(
    workspace: Workspace, model_id: str, base: int, fault: Fault, *, share: float = 0.3
) -> int:
    """Register a ``fault`` variant of version ``base`` as the model's next version."""
    registry = Registry.for_workspace(workspace)
    entry = workspace.model(model_id)
    source = registry.fetch(model_id, base).path
    folder = workspace.state_dir / "variants" / model_id / f"{fault}-{uuid.uuid4().hex[:8]}"
    shutil.copytree(source, folder)
    conf = yaml.safe_load((folder / "MLmodel").read_text())["flavors"]["sklearn"]
    if fault == "errors":
        _rewrite(folder, FailingModel(_load_sklearn(folder, conf), share))
    elif fault == "diverge":
        _rewrite(folder, DivergingModel(_load_sklearn(folder, conf)))
    elif fault == "unloadable":
        (folder / str(conf.get("pickled_model", "model.pkl"))).write_bytes(b"not a model\n")
    tracking = registry.tracking
    run_id = tracking.start_run(tracking.experiment_id(model_id), {"fault": fault}, {})
    tracking.finish_run(run_id, ok=True)
    tags = {"modelyard.fault": fault, "modelyard.base_version": str(base)}
    return registry.register(entry, run_id, str(folder), None, tags).version
