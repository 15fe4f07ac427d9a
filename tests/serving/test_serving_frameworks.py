"""Framework adapters beyond scikit-learn: LightGBM (optional extra) and the MLflow pyfunc
fallback, each served over HTTP with the same answers as the model in process."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pytest
from serving_harness import serve

from modelyard.serving import ModelSource


def _rows(n: int = 6) -> np.ndarray:
    return np.random.default_rng(9).normal(size=(n, 8))


def _training() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 8))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def _predictions(path: Path, name: str, rows: np.ndarray) -> object:
    """What the server answers for ``rows`` with the model at ``path`` (predict_proba)."""
    with (
        serve(ModelSource(name, "1", path, method="predict_proba")) as running,
        running.client() as client,
    ):
        reply = client.post(f"/v1/models/{name}:predict", json={"instances": rows.tolist()})
    assert reply.status_code == 200, reply.text
    return reply.json()["predictions"]


@pytest.mark.parametrize(("framework", "rtol"), [("lightgbm", 1e-9), ("xgboost", 1e-6)])
def test_boosted_trees(framework: str, rtol: float, tmp_path: Path) -> None:
    library = pytest.importorskip(framework)
    X, y = _training()
    if framework == "lightgbm":
        import mlflow.lightgbm as flavor

        model = library.LGBMClassifier(n_estimators=20, verbose=-1).fit(X, y)
    else:
        import mlflow.xgboost as flavor  # type: ignore[no-redef]

        model = library.XGBClassifier(n_estimators=20, max_depth=3).fit(X, y)
    path = tmp_path / framework
    flavor.save_model(model, path, input_example=X[:2], pip_requirements=[framework])
    rows = _rows()
    np.testing.assert_allclose(
        _predictions(path, framework, rows), model.predict_proba(rows), rtol=rtol
    )


@pytest.mark.filterwarnings("ignore:.*Add type hints:UserWarning")
def test_pyfunc_fallback(tmp_path: Path) -> None:
    class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        """A custom pyfunc model: no native adapter knows it, so the fallback serves it."""

        # No type hints: MLflow would read them as a schema.
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return np.asarray(model_input).sum(axis=1) * 2

    path = tmp_path / "pyfunc"
    X, _ = _training()
    mlflow.pyfunc.save_model(path, python_model=Doubler(), input_example=X[:2], pip_requirements=[])
    rows = _rows()
    with serve(ModelSource("doubler", "1", path)) as running, running.client() as client:
        meta = client.get("/v2/models/doubler").json()
        body = {
            "inputs": [
                {
                    "name": meta["inputs"][0]["name"],
                    "shape": [6, 8],
                    "datatype": "FP64",
                    "data": rows.ravel().tolist(),
                }
            ]
        }
        reply = client.post("/v2/models/doubler/infer", json=body)
    assert reply.status_code == 200, reply.text
    np.testing.assert_allclose(reply.json()["outputs"][0]["data"], rows.sum(axis=1) * 2)


def test_pytorch_model(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    import mlflow.pytorch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    path = tmp_path / "torch"
    X = np.random.default_rng(2).normal(size=(2, 8)).astype(np.float32)
    mlflow.pytorch.save_model(model, path, input_example=X, pip_requirements=["torch"])
    rows = _rows().astype(np.float32)
    with torch.no_grad():
        expected = model(torch.as_tensor(rows)).numpy()
    with serve(ModelSource("mlp", "1", path)) as running, running.client() as client:
        reply = client.post("/v1/models/mlp:predict", json={"instances": rows.tolist()})
    assert reply.status_code == 200, reply.text
    np.testing.assert_allclose(reply.json()["predictions"], expected, rtol=1e-5)
