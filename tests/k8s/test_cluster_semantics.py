"""What the rendered objects promise a real cluster: one admin token for every replica and no
admin API through the gateway, ingress traffic that follows the canary, a production model that
survives a node drain, the ServiceAccount the pods name, Prometheus selecting the monitors, and
prune that never takes files from running pods."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from argo_expr import rollout_outcome
from zoo_versions import cluster_with_secret, pins

from modelyard.config import Workspace, load_workspace
from modelyard.errors import ConfigError
from modelyard.k8s import ObjectKey, RenderError, all_objects, apply_workspace, render_workspace
from modelyard.k8s.apply import desired_objects, mounted_configmaps, workspace_plan


def _objects(ws: Workspace, model_id: str) -> list[dict[str, Any]]:
    return all_objects(render_workspace(ws, [model_id], pins(ws.models)))


def _find(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind)


def test_every_replica_reads_one_admin_token_from_the_secret(zoo: Workspace) -> None:
    pod = _find(_objects(zoo, "ranker"), "Rollout")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    token_file = env["MODELYARD_ADMIN_TOKEN_FILE"]
    assert token_file == "/var/run/secrets/modelyard/admin-token"
    mount = next(m for m in container["volumeMounts"] if token_file.startswith(m["mountPath"]))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "modelyard-credentials"
    assert "items" not in volume["secret"]  # every key, admin-token among them
    # a writable HOME and cache: the root filesystem is read-only
    assert env["HOME"] == "/tmp"
    assert any(v["name"] == "tmp" and "emptyDir" in v for v in pod["volumes"])


def test_the_server_reads_the_token_file(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelyard.workflows.serve import admin_token

    token = tmp_path / "admin-token"
    token.write_text("s3cret\n", encoding="utf-8")
    monkeypatch.setenv("MODELYARD_ADMIN_TOKEN_FILE", str(token))
    monkeypatch.setenv("MODELYARD_ADMIN_TOKEN", "not-this-one")
    assert admin_token(workspace) == "s3cret"
    monkeypatch.setenv("MODELYARD_ADMIN_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="add the key admin-token"):
        admin_token(workspace)


def test_ingress_traffic_follows_the_weights_and_never_reaches_admin(zoo: Workspace) -> None:
    service = _find(_objects(zoo, "ranker"), "VirtualService")["spec"]
    assert service["gateways"] == ["mesh", "istio-system/public"]
    assert service["hosts"] == ["ranker.ml.svc.cluster.local", "ranker.models.example.com"]
    block, grpc, primary = service["http"]
    assert block["match"] == [{"uri": {"prefix": "/admin"}, "gateways": ["istio-system/public"]}]
    assert block["fault"]["abort"]["httpStatus"] == 404
    # the route Argo moves weights on carries gateway and mesh traffic alike
    assert primary["name"] == "primary"
    assert "match" not in primary
    assert [r["weight"] for r in primary["route"]] == [100, 0]
    # ranker has grpc: true: its port's route comes before primary (which matches every
    # port), sends calls to the gRPC port, and its weights move with primary's
    assert grpc["name"] == "grpc"
    assert grpc["match"] == [{"port": 9000}]
    assert [r["destination"]["port"] for r in grpc["route"]] == [{"number": 9000}] * 2
    assert [r["weight"] for r in grpc["route"]] == [100, 0]
    rollout = _find(_objects(zoo, "ranker"), "Rollout")["spec"]["strategy"]["canary"]
    assert rollout["trafficRouting"]["istio"]["virtualService"]["routes"] == ["grpc", "primary"]


def test_a_production_model_survives_a_node_drain(zoo: Workspace, make_workspace: Any) -> None:
    for model_id in ("ranker", "plain", "steady"):
        objects = _objects(zoo, model_id)
        hpa = next((o for o in objects if o["kind"] == "HorizontalPodAutoscaler"), None)
        workload = next(o for o in objects if o["kind"] in ("Rollout", "Deployment"))
        floor = hpa["spec"]["minReplicas"] if hpa else workload["spec"]["replicas"]
        assert floor >= 2, model_id
        assert _find(objects, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    root = make_workspace(
        {"solo": ({"id": "solo", "owner": {"team": "t", "dri": "d"}, "state": "production"},
                  {"replicas": {"min": 1, "max": 1}})}
    )  # fmt: skip
    with pytest.raises(RenderError, match=r"replicas\.max: a production model runs at least 2"):
        render_workspace(load_workspace(root, env={}), versions={"solo": 1})
    fixed = root / "models" / "solo" / "deploy.yaml"
    fixed.write_text("replicas: {min: 1, max: 1}\nautoscaling: {enabled: false}\n")
    with pytest.raises(RenderError, match=r"replicas\.max"):  # without an HPA too
        render_workspace(load_workspace(root, env={}), versions={"solo": 1})


def test_probes_wait_for_a_busy_server_and_the_sidecar_outlasts_its_drain(
    zoo: Workspace,
) -> None:
    template = _find(_objects(zoo, "ranker"), "Rollout")["spec"]["template"]
    (container,) = template["spec"]["containers"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["timeoutSeconds"] >= 5, probe
    drain_s = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    proxy = json.loads(template["metadata"]["annotations"]["proxy.istio.io/config"])
    sidecar_s = int(proxy["terminationDrainDuration"].removesuffix("s"))
    assert drain_s < sidecar_s < template["spec"]["terminationGracePeriodSeconds"]


def test_the_service_account_is_rendered_and_applied(zoo: Workspace) -> None:
    objects = desired_objects(zoo, ["ranker"], pins(zoo.models))
    account = objects[0]
    assert account["kind"] == "ServiceAccount"
    assert account["metadata"]["name"] == "modelyard"
    assert account["automountServiceAccountToken"] is False
    cluster = cluster_with_secret()
    apply_workspace(cluster, zoo, ["ranker"], versions=pins(zoo.models))
    assert ObjectKey("", "ServiceAccount", "ml", "modelyard") in cluster.objects


def test_prometheus_selects_the_monitors(zoo: Workspace) -> None:
    objects = _objects(zoo, "ranker")
    for kind in ("ServiceMonitor", "PrometheusRule"):
        labels = _find(objects, kind)["metadata"]["labels"]
        assert labels["release"] == "kube-prometheus-stack", kind


def test_prune_spares_a_configmap_that_pods_still_mount(zoo: Workspace, zoo_dir: Path) -> None:
    cluster = cluster_with_secret()
    apply_workspace(cluster, zoo, versions=pins(zoo.models))
    key = ObjectKey("argoproj.io", "Rollout", "ml", "ranker")
    old = next(
        v["configMap"]["name"]
        for v in cluster.objects[key]["spec"]["template"]["spec"]["volumes"]
        if v["name"] == "workspace"
    )
    # the stable ReplicaSet Argo keeps while a canary runs still mounts the old files
    stable_rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "ranker-6d5f8",
            "namespace": "ml",
            "labels": cluster.objects[key]["spec"]["template"]["metadata"]["labels"],
        },
        "spec": {"replicas": 2, "template": cluster.objects[key]["spec"]["template"]},
    }
    cluster.apply(stable_rs)
    deploy = zoo_dir / "models" / "ranker" / "deploy.yaml"
    deploy.write_text("batching:\n  max_batch_size: 64\n", encoding="utf-8")
    ws = load_workspace(zoo_dir, env={})
    canary = apply_workspace(cluster, ws, versions=pins(ws.models))  # the canary's config
    (second,) = [c.key.name for c in canary.creates if c.key.name.startswith("ranker-workspace-")]
    assert old not in {c.key.name for c in canary.prunes}  # the stable pods' files stay
    deploy.write_text("batching:\n  max_batch_size: 32\n", encoding="utf-8")
    ws = load_workspace(zoo_dir, env={})
    apply_workspace(cluster, ws, versions=pins(ws.models))  # replaces the canary's template
    fourth = workspace_plan(cluster, ws, versions=pins(ws.models))
    pruned = {c.key.name for c in fourth.prunes}
    assert second in pruned  # no pod mounts the replaced canary's files any more
    assert old not in pruned  # the stable ReplicaSet's pods still do
    stable_rs["spec"]["replicas"] = 0  # the rollout finished: that revision runs no pod
    assert old not in mounted_configmaps([stable_rs])


def test_on_the_cluster_a_new_version_with_no_data_is_not_promoted(zoo: Workspace) -> None:
    cluster = cluster_with_secret()
    apply_workspace(cluster, zoo, versions=pins(zoo.models))
    key = ObjectKey("argoproj.io", "Rollout", "ml", "ranker")
    before = json.dumps(cluster.objects[key]["spec"]["template"], sort_keys=True)
    apply_workspace(cluster, zoo, ["ranker"], versions={"ranker": 4})
    live = cluster.objects[key]
    # a new template hash: Argo starts the canary steps and their analysis
    assert json.dumps(live["spec"]["template"], sort_keys=True) != before
    templates = {k.name: obj for k, obj in cluster.objects.items() if k.kind == "AnalysisTemplate"}
    assert rollout_outcome(live, templates, lambda name, query: []) == "paused"


def test_a_second_deploy_of_one_model_plans_no_change(zoo: Workspace) -> None:
    cluster = cluster_with_secret()
    apply_workspace(cluster, zoo, ["ranker"], versions=pins(zoo.models))
    again = workspace_plan(cluster, zoo, ["ranker"], versions=pins(zoo.models))
    assert again.empty  # the shared ServiceAccount included
    assert ObjectKey("", "ServiceAccount", "ml", "modelyard") in {c.key for c in again.unchanged}
