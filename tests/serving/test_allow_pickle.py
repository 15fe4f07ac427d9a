"""``serving.allow_pickle: false``: formats that run code on load are refused, data formats load."""

from __future__ import annotations

from pathlib import Path

import mlflow.sklearn
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from modelyard.config import load_workspace
from modelyard.serving.runtimes.base import PickleRefused
from modelyard.serving.runtimes.registry import runtime_for

ROWS = np.random.default_rng(3).normal(size=(20, 4))


def _estimator() -> LogisticRegression:
    return LogisticRegression().fit(ROWS, (ROWS[:, 0] > 0).astype(int))


def _saved(tmp_path: Path, fmt: str) -> Path:
    folder = tmp_path / fmt
    mlflow.sklearn.save_model(
        _estimator(), folder, serialization_format=fmt, pip_requirements=["scikit-learn"]
    )
    return folder


@pytest.mark.parametrize("fmt", ["cloudpickle", "pickle"])
def test_a_pickled_model_is_refused_when_pickles_are_not_allowed(tmp_path: Path, fmt: str) -> None:
    folder = _saved(tmp_path, fmt)
    runtime = runtime_for(folder, allow_pickle=False)
    with pytest.raises(PickleRefused, match=r"serving\.allow_pickle: false"):
        runtime.load(folder)
    allowed = runtime_for(folder)  # the default still loads it
    allowed.load(folder)
    assert allowed.predict(ROWS).shape == (20,)


def test_skops_and_onnx_still_load_without_pickles(tmp_path: Path) -> None:
    skops = _saved(tmp_path, "skops")
    runtime = runtime_for(skops, allow_pickle=False)
    runtime.load(skops)
    expected = _estimator().predict(ROWS)
    assert (runtime.predict(ROWS) == expected).all()

    from modelyard.registry.onnx_export import _convert
    from modelyard.tracking import save_onnx

    onnx_folder = tmp_path / "onnx"
    save_onnx(_convert(_estimator(), 4), skops, onnx_folder)
    runtime = runtime_for(onnx_folder, allow_pickle=False)
    runtime.load(onnx_folder)
    assert (np.asarray(runtime.predict(ROWS.astype(np.float32))).ravel() == expected).all()


def test_model_yaml_carries_allow_pickle_to_the_server_source(workspace_dir: Path) -> None:
    model_yaml = workspace_dir / "models" / "ctr" / "model.yaml"
    text = model_yaml.read_text()
    assert "serving:" in text
    model_yaml.write_text(text.replace("serving:\n", "serving:\n  allow_pickle: false\n", 1))
    workspace = load_workspace(workspace_dir)
    assert workspace.model("ctr").spec.serving.allow_pickle is False
