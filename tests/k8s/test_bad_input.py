"""Bad input is refused with a clear error naming the model, the file and the field: config
refuses most at load, rendering refuses what only Kubernetes cannot express."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from zoo_versions import pins

from modelyard.config import InvalidConfig, load_workspace
from modelyard.errors import ConfigError
from modelyard.k8s import RenderError, render_workspace

Make = Callable[[dict[str, tuple[dict[str, Any], dict[str, Any]]]], Path]


@pytest.fixture
def one_model(make_workspace: Make, ranker_model: dict[str, Any]) -> Callable[..., Path]:
    def make(model_id: str, deploy: dict[str, Any], **model: Any) -> Path:
        return make_workspace({model_id: ({**ranker_model, "id": model_id, **model}, deploy)})

    return make


@pytest.mark.parametrize(
    ("deploy", "model", "field"),
    [
        ({"rollout": {"steps": [50, 150]}}, {}, "rollout.steps"),
        ({"resources": {"cpu": "2", "limits": {"cpu": "1"}}}, {}, "resources"),
        ({"resources": {"gpu": 1}}, {}, "resources.gpu"),
        ({"scheduling": {"avoid": ["ancient"]}}, {}, "scheduling.avoid[0]"),
        ({}, {"training": {"resources": {"gpu": 1}}}, "training.resources.gpu"),
    ],
)
def test_config_refuses_at_load(
    one_model: Callable[..., Path], deploy: dict[str, Any], model: dict[str, Any], field: str
) -> None:
    root = one_model("broken", deploy, **model)
    with pytest.raises(InvalidConfig) as caught:
        render_workspace(load_workspace(root, env={}), versions=pins(["broken"]))
    assert field in str(caught.value)
    assert "models/broken/" in str(caught.value)


@pytest.mark.parametrize(
    ("deploy", "field", "hint"),
    [
        ({"resources": {"cpu": "1500m"}, "scheduling": {"numa": True}}, "resources.cpu", "whole"),
        (
            {"resources": {"cpu": "2", "limits": {"cpu": "3"}}, "scheduling": {"numa": True}},
            "resources.limits.cpu",
            "equal",
        ),
        (
            {
                "resources": {"cpu": "1", "memory": "1Gi", "limits": {"memory": "2Gi"}},
                "scheduling": {"numa": True},
            },
            "resources.limits.memory",
            "equal",
        ),
        ({"rollout": {"steps": [2.5, 100]}}, "rollout.steps[0]", "whole percents"),
    ],
)
def test_render_refuses_what_kubernetes_cannot_express(
    one_model: Callable[..., Path], deploy: dict[str, Any], field: str, hint: str
) -> None:
    root = one_model("odd", deploy)
    ws = load_workspace(root, env={})
    with pytest.raises(RenderError) as caught:
        render_workspace(ws, versions=pins(ws.models))
    message = str(caught.value)
    assert "model 'odd'" in message
    assert str(root / "models" / "odd" / "deploy.yaml") in message
    assert f": {field}: " in message
    assert hint in message


def test_every_broken_model_is_reported_at_once(
    make_workspace: Make, ranker_model: dict[str, Any]
) -> None:
    base = ranker_model
    numa = {"resources": {"cpu": "500m"}, "scheduling": {"numa": True}}
    models = {
        "one": ({**base, "id": "one"}, numa),
        "two": ({**base, "id": "two"}, numa),
        "fine": ({**base, "id": "fine"}, {}),
    }
    ws = load_workspace(make_workspace(models), env={})
    with pytest.raises(ConfigError, match="2 models cannot be rendered") as caught:
        render_workspace(ws, versions=pins(ws.models))
    assert "'one'" in str(caught.value)
    assert "'two'" in str(caught.value)


@pytest.mark.parametrize(
    "image",
    [
        "ghcr.io/acme/onnx@sha256:1234",  # too short
        "ghcr.io/acme/onnx@sha1:" + "a" * 40,  # not sha256
        "ghcr.io/acme/onnx@sha256:" + "A" * 64,  # upper case
    ],
)
def test_a_malformed_image_digest_is_refused_at_load(
    make_workspace: Make, ranker_model: dict[str, Any], image: str
) -> None:
    root = make_workspace({"ranker": (ranker_model, {})})
    (root / "runtimes.yaml").write_text(
        f"runtimes:\n  sklearn-cpu:\n    image: {image!r}\n", encoding="utf-8"
    )
    with pytest.raises(InvalidConfig) as caught:
        load_workspace(root, env={})
    message = str(caught.value)
    assert f"{root / 'runtimes.yaml'}:3" in message
    assert "runtimes.sklearn-cpu.image" in message
    assert "repo@sha256:" in message


@pytest.mark.parametrize(
    ("kubernetes", "hint"),
    [
        ({"gateway": "public"}, "NAMESPACE/NAME"),
        ({"gateway": "istio-system/public"}, "gateway_domain"),
        ({"mirror_share": 0}, "mirror_share"),
        ({"mirror_share": 1.5}, "mirror_share"),
    ],
)
def test_cluster_settings_are_checked_at_load(
    make_workspace: Make, ranker_model: dict[str, Any], kubernetes: dict[str, Any], hint: str
) -> None:
    root = make_workspace({"ranker": (ranker_model, {})})
    settings = yaml.safe_load((root / "modelyard.yaml").read_text(encoding="utf-8"))
    settings["kubernetes"] = {"namespace": "ml", **kubernetes}
    (root / "modelyard.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    with pytest.raises(InvalidConfig) as caught:
        load_workspace(root, env={})
    assert hint in str(caught.value)
    assert "modelyard.yaml" in str(caught.value)
