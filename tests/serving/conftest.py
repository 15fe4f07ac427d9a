"""Fixtures of the serving tests: a trained scikit-learn model and real servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from serving_harness import Running, serve

from modelyard.serving import ModelSource


@dataclass(frozen=True)
class SkModel:
    path: Path
    model: Any
    X: np.ndarray


@pytest.fixture(scope="session")
def sk_model(tmp_path_factory: pytest.TempPathFactory) -> SkModel:
    """The example model: StandardScaler + LogisticRegression on 8 float features."""
    import mlflow.sklearn
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=400, n_features=8, random_state=0)
    model = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression())]).fit(X, y)
    path = tmp_path_factory.mktemp("models") / "ctr-1"
    # naming the requirements skips MLflow's inference of them (a subprocess, seconds)
    mlflow.sklearn.save_model(
        model, str(path), input_example=X[:2], pip_requirements=["scikit-learn"]
    )
    return SkModel(path, model, X)


@pytest.fixture(scope="module")
def sk_server(sk_model: SkModel) -> Iterator[Running]:
    """The example model served with default options (batching on)."""
    source = ModelSource("ctr", "1", sk_model.path, method="predict_proba")
    with serve(source) as running:
        yield running
