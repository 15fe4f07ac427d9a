"""A pool on Kubernetes: one Deployment serving every pooled model, whose hosts and routes
stay theirs; no workload of their own; one runtime image per pool; valid objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from zoo_versions import pins

from conftest import POOLED, write_pooled
from modelyard.config import Workspace, load_workspace
from modelyard.k8s import RenderError, Validator, all_objects, render_workspace
from modelyard.k8s.bundle import flat_keys


def _workspace(root: Path, models: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> Workspace:
    return load_workspace(write_pooled(root, models), env={})


@pytest.fixture
def pooled(tmp_path: Path) -> Workspace:
    """Two served pooled models, one unserved pooled model, and a plain zoo model."""
    return load_workspace(write_pooled(tmp_path / "ws"), env={})


def _by_kind(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_two_pooled_models_render_one_pool_deployment(pooled: Workspace) -> None:
    rendered = render_workspace(pooled, versions=pins(pooled.models))
    folders = {m.model_id: m for m in rendered}
    assert "_pool-small" in folders
    objects = _by_kind(all_objects(rendered))
    deployments = [key for key in objects if key[0] in ("Deployment", "Rollout")]
    # One workload for the pool, one for the plain model; none for a pooled model.
    assert sorted(deployments) == [("Deployment", "plain"), ("Deployment", "pool-small")]
    pool = objects[("Deployment", "pool-small")]
    (container,) = pool["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[:4] == ["modelyard", "serve", "--pool", "small"]
    assert args[4:] == ["-w", "/workspace", "--host", "0.0.0.0", "--port", "8080"]
    assert "MODELYARD_MODEL" not in {e["name"] for e in container["env"]}
    # A production model in the pool: two replicas, as it would have on its own.
    assert pool["spec"]["replicas"] == 2
    annotations = pool["spec"]["template"]["metadata"]["annotations"]
    assert annotations["modelyard.dev/versions"] == "tiny-a=3,tiny-b=3"
    # Memory from the budget (1Gi) plus headroom, request and limit alike; CPU the largest.
    resources = container["resources"]
    assert resources["requests"]["memory"] == resources["limits"]["memory"] == "1511Mi"
    assert resources["requests"]["cpu"] == "500m"
    for kind, name in [("HorizontalPodAutoscaler", "tiny-a"), ("Service", "tiny-a-canary")]:
        assert (kind, name) not in objects
    served = ("Service", "VirtualService", "Deployment", "Rollout")
    assert not any(name == "tiny-draft" for kind, name in objects if kind in served)


def test_pool_configmap_holds_every_served_pooled_model(pooled: Workspace) -> None:
    objects = all_objects(render_workspace(pooled, versions=pins(pooled.models)))
    pool = _by_kind(objects)[("Deployment", "pool-small")]
    volume = pool["spec"]["template"]["spec"]["volumes"][0]["configMap"]
    (configmap,) = [o for o in objects if o["metadata"]["name"] == volume["name"]]
    paths = {item["path"] for item in volume["items"]}
    assert {"models/tiny-a/deploy.yaml", "models/tiny-b/model.yaml", "runtimes.yaml"} <= paths
    assert not any(p.startswith("models/tiny-draft/") for p in paths)
    keys = flat_keys(sorted(paths))
    deploy_b = yaml.safe_load(configmap["data"][keys["models/tiny-b/deploy.yaml"]])
    # The pool server finds its models by this field, and loads pinned ones at start.
    assert deploy_b["pool"] == {"name": "small", "pinned": True}
    settings = yaml.safe_load(configmap["data"][keys["modelyard.yaml"]])
    assert settings["pools"]["small"]["memory"] == "1Gi"


def test_pooled_models_keep_their_hosts_and_route_to_the_pool(pooled: Workspace) -> None:
    objects = _by_kind(all_objects(render_workspace(pooled, versions=pins(pooled.models))))
    pool_pods = objects[("Deployment", "pool-small")]["spec"]["selector"]["matchLabels"]
    for model in ("tiny-a", "tiny-b"):
        host = objects[("Service", model)]
        # The old name resolves, and reaches the pool's pods.
        assert host["spec"]["selector"] == pool_pods
        route = objects[("VirtualService", model)]
        assert route["spec"]["hosts"][0] == f"{model}.ml.svc.cluster.local"
        for http in route["spec"]["http"]:
            destinations = [r["destination"]["host"] for r in http["route"]]
            assert destinations == ["pool-small.ml.svc.cluster.local"]
    assert objects[("Service", "pool-small")]["spec"]["selector"] == pool_pods
    assert ("NetworkPolicy", "pool-small-server") in objects
    assert ("ServiceMonitor", "pool-small") in objects


def test_pool_objects_validate(pooled: Workspace, validator: Validator) -> None:
    objects = all_objects(render_workspace(pooled, versions=pins(pooled.models)))
    assert [p for obj in objects for p in validator.problems(obj)] == []


def test_rendering_one_pooled_model_renders_its_pool_whole(pooled: Workspace) -> None:
    rendered = render_workspace(pooled, ["tiny-a"], pins(pooled.models))
    assert [m.model_id for m in rendered] == ["tiny-a", "_pool-small"]
    pool = _by_kind(all_objects(rendered))[("Deployment", "pool-small")]
    annotations = pool["spec"]["template"]["metadata"]["annotations"]
    assert annotations["modelyard.dev/versions"] == "tiny-a=3,tiny-b=3"


def test_a_new_version_rolls_the_pool(pooled: Workspace) -> None:
    def template(versions: dict[str, int]) -> Any:
        objects = _by_kind(all_objects(render_workspace(pooled, versions=versions)))
        return objects[("Deployment", "pool-small")]["spec"]["template"]

    before = template(pins(pooled.models))
    after = template({**pins(pooled.models), "tiny-b": 4})
    assert before != after


def test_mixed_runtimes_in_a_pool_are_refused(tmp_path: Path) -> None:
    models = dict(POOLED)
    model, deploy = models["tiny-b"]
    models["tiny-b"] = ({**model, "runtime": "py312"}, deploy)
    ws = _workspace(tmp_path / "ws", models)
    with pytest.raises(RenderError) as caught:
        render_workspace(ws, versions=pins(ws.models))
    message = str(caught.value)
    assert caught.value.model == "tiny-b"
    assert "tiny-a" in message
    assert "tiny-b" in message
    assert "share one runtime image" in message
    assert "another pool" in message


def test_a_pooled_model_with_grpc_is_refused(tmp_path: Path) -> None:
    models = dict(POOLED)
    model, deploy = models["tiny-a"]
    models["tiny-a"] = (model, {**deploy, "grpc": True})
    ws = _workspace(tmp_path / "ws", models)
    with pytest.raises(RenderError, match="serves HTTP only"):
        render_workspace(ws, versions=pins(ws.models))


def test_a_pool_named_like_a_model_is_refused(tmp_path: Path) -> None:
    clash = ({"id": "pool-small", "owner": {"team": "t", "dri": "d"}}, {})
    ws = _workspace(tmp_path / "ws", {**POOLED, "pool-small": clash})
    with pytest.raises(RenderError, match="rename the pool"):
        render_workspace(ws, versions=pins(ws.models))


def test_the_pool_pods_workspace_serves_the_pooled_models(
    pooled: Workspace, tmp_path: Path
) -> None:
    """The slice the pool pod mounts is a workspace where ``serve --pool small`` finds both
    served models, and the pinned one pinned."""
    from modelyard.workflows.pools import pool_models

    objects = all_objects(render_workspace(pooled, versions=pins(pooled.models)))
    pool = _by_kind(objects)[("Deployment", "pool-small")]
    volume = pool["spec"]["template"]["spec"]["volumes"][0]["configMap"]
    (configmap,) = [o for o in objects if o["metadata"]["name"] == volume["name"]]
    mount = tmp_path / "workspace"
    for item in volume["items"]:
        path = mount / item["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(configmap["data"][item["key"]], encoding="utf-8")
    served = load_workspace(mount, env={})
    members = pool_models(served, "small")
    assert [e.id for e in members] == ["tiny-a", "tiny-b"]
    assert [bool(e.deploy.pool and e.deploy.pool.pinned) for e in members] == [False, True]


def test_render_out_writes_the_pool_folder(tmp_path: Path) -> None:
    from typer.testing import CliRunner
    from zoo_versions import workspace_pin_args

    from modelyard.cli import app
    from registry_bed import POD_REACHABLE_ENV

    root = write_pooled(tmp_path / "ws")
    out = tmp_path / "out"
    args = ["render", "--check", "--out", str(out), "-w", str(root), *workspace_pin_args(root)]
    result = CliRunner().invoke(app, args, env=POD_REACHABLE_ENV)
    assert result.exit_code == 0, result.output
    assert "rendered 4 model(s)" in result.output  # the pool's folder is not a model
    top = yaml.safe_load((out / "kustomization.yaml").read_text(encoding="utf-8"))
    assert "_pool-small" in top["resources"]
    assert (out / "_pool-small" / "deployment-pool-small.yaml").is_file()
