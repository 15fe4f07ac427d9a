"""Fixtures of the Kubernetes tests: a workspace of ten varied models ("the zoo"), and a
validator that reads the CRD schemas from tests/fixtures/crd."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from modelyard.config import Workspace, load_workspace
from modelyard.k8s import Validator

CRD_DIR = Path(__file__).parent.parent / "fixtures" / "crd"
ONNX_IMAGE = (
    "ghcr.io/acme/onnx-runtime@sha256:"
    "1d701c6d57114c4cc31e9b274a423a3ee219c1d6e16d76fe32c828a82407b4e7"
)
"""The zoo's one runtime image pinned by digest."""

SETTINGS: dict[str, Any] = {
    "name": "zoo",
    "backend": "kubernetes",
    "tracking_uri": "http://mlflow.mlops.svc:5000",
    "artifact_store": "s3://zoo-artifacts",
    "kubernetes": {
        "namespace": "ml",
        "image_registry": "registry.example.com/zoo/",
        "gateway": "istio-system/public",
        "gateway_domain": "models.example.com",
        "caller_namespaces": ["web"],
    },
    "node_classes": {
        "previous-gen": {"values": ["m4.large", "c4.large"]},
        "spot": {"label": "node.example.com/lifecycle", "values": ["spot"], "taint": "spot"},
        "old-gpu": {"values": ["p2.xlarge"]},
    },
}
RUNTIMES: dict[str, Any] = {
    "runtimes": {
        "sklearn-cpu": {"packages": ["scikit-learn>=1.5"]},
        "pytorch-cuda": {"framework": "pytorch", "packages": ["torch>=2.3"], "cuda": "12.4"},
        "onnx-cpu": {"framework": "onnx", "image": ONNX_IMAGE},
        "py312": {"python": "3.12"},
    }
}


def _model(model_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": model_id, "owner": {"team": "search", "dri": "ada@example.com"}} | fields


# id -> (model.yaml, deploy.yaml); one behaviour each.
ZOO: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "ranker": (
        _model("ranker", state="production"),
        {"replicas": {"min": 2, "max": 6}, "grpc": True},  # grpc: the gRPC port and routes
    ),
    "vision": (
        _model(
            "vision",
            state="production",
            framework="pytorch",
            runtime="pytorch-cuda",
            training={"resources": {"cpu": "8", "memory": "32Gi", "gpu": 2}, "timeout": "6h"},
        ),
        {
            "resources": {"cpu": "2", "memory": "8Gi", "gpu": 1},
            "scheduling": {"avoid": ["old-gpu"]},
        },
    ),
    "pinned": (
        _model("pinned", state="production"),
        {"resources": {"cpu": "4", "memory": "8Gi"}, "scheduling": {"numa": True}},
    ),
    "picky": (
        _model("picky", state="staging"),
        {"scheduling": {"avoid": ["previous-gen", "spot"]}},
    ),
    "plain": (
        _model("plain", state="production"),
        {"rollout": {"enabled": False}, "autoscaling": {"cpu_percent": 60}},
    ),
    "busy": (
        _model("busy", state="production"),
        {"autoscaling": {"cpu_percent": None, "memory_percent": 80, "rps_per_replica": 12.5}},
    ),
    "nightly": (
        _model("nightly", training={"schedule": "0 3 * * *", "retries": 2}),
        {},
    ),
    "steady": (
        _model("steady", state="production", runtime="py312"),
        {
            "rollout": {"shadow": None, "steps": [10, 100], "interval": "2m"},
            "autoscaling": {"enabled": False},
            "replicas": {"min": 2, "max": 2},
        },
    ),
    "onnx-scorer": (
        _model("onnx-scorer", state="staging", framework="onnx", runtime="onnx-cpu"),
        {"resources": {"cpu": "250m", "memory": "256Mi", "limits": {"cpu": "1", "memory": "1Gi"}}},
    ),
    "a-very-long-model-identifier-of-42-chars-x": (
        _model(
            "a-very-long-model-identifier-of-42-chars-x",
            state="production",
            owner={"team": "Risk & Fraud", "dri": "Zoë O'Brien <zoe@example.com>"},
            training={"schedule": "*/30 * * * *"},
        ),
        {"rollout": {"shadow": "10m", "steps": [1, 5, 100]}},
    ),
}


def write_yaml(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def write_model(root: Path, model: dict[str, Any], deploy: dict[str, Any]) -> None:
    folder = root / "models" / model["id"]
    write_yaml(folder / "model.yaml", model)
    write_yaml(folder / "deploy.yaml", deploy)
    (folder / "train.py").write_text("print('training')\n", encoding="utf-8")


def write_zoo(root: Path, models: dict[str, tuple[dict[str, Any], dict[str, Any]]] = ZOO) -> Path:
    write_yaml(root / "modelyard.yaml", SETTINGS)
    write_yaml(root / "runtimes.yaml", RUNTIMES)
    for model, deploy in models.values():
        write_model(root, model, deploy)
    return root


POOLED: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "tiny-a": (
        _model("tiny-a", state="production"),
        {"pool": "small", "resources": {"cpu": "250m", "memory": "256Mi"}},
    ),
    "tiny-b": (
        _model("tiny-b", state="staging", owner={"team": "ads", "dri": "bo"}),
        {"pool": {"name": "small", "pinned": True}, "resources": {"cpu": "500m"}},
    ),
    "tiny-draft": (_model("tiny-draft"), {"pool": "small"}),  # not served: not in the pool
}
"""Models of pool ``small`` (see :func:`write_pooled`)."""


def write_pooled(
    root: Path, models: dict[str, tuple[dict[str, Any], dict[str, Any]]] | None = None
) -> Path:
    """A workspace with pool ``small`` (1Gi), ``models`` (:data:`POOLED` and the zoo's
    ``plain`` when None)."""
    write_zoo(root, {**POOLED, "plain": ZOO["plain"]} if models is None else models)
    write_yaml(root / "modelyard.yaml", {**SETTINGS, "pools": {"small": {"memory": "1Gi"}}})
    return root


@pytest.fixture
def zoo_dir(tmp_path: Path) -> Path:
    return write_zoo(tmp_path / "zoo")


@pytest.fixture(scope="session")
def zoo_session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zoo written once per session, for tests that only read it."""
    return write_zoo(tmp_path_factory.mktemp("zoo") / "zoo")


@pytest.fixture
def zoo(zoo_dir: Path) -> Workspace:
    return load_workspace(zoo_dir, env={})


@pytest.fixture(scope="session")
def validator() -> Validator:
    return Validator(schema_dir=CRD_DIR)


@pytest.fixture
def make_workspace(tmp_path: Path) -> Any:
    """``make_workspace({id: (model, deploy)})``: a workspace of those models, loaded."""

    def make(models: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> Path:
        return write_zoo(tmp_path / "custom", models)

    return make


@pytest.fixture
def ranker_model() -> dict[str, Any]:
    """model.yaml of a plain production model, to vary."""
    return dict(ZOO["ranker"][0])
