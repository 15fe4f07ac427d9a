"""NetworkPolicies: every modelyard pod is selected by one policy of its model; servers admit
callers, the mesh gateway and Prometheus on the server port; training pods admit nothing and
reach only DNS, the tracking server and the artifact store that ``modelyard.yaml`` names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from zoo_versions import pins

from modelyard.config import Workspace, load_workspace
from modelyard.k8s import RenderError, all_objects, render_workspace
from modelyard.k8s.network import endpoint_rule

HTTPS = [{"protocol": "TCP", "port": 443}]
DNS = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


def _objects(ws: Workspace) -> list[dict[str, Any]]:
    rendered = render_workspace(ws, versions=pins(ws.models))
    return [*all_objects(rendered), *(m.job for m in rendered if m.job is not None)]


def _pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    labels: dict[str, str] = spec["template"]["metadata"]["labels"]
    return labels


def _policy(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(
        o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == name
    )


def test_every_pod_is_selected_by_one_policy_of_its_model(zoo: Workspace) -> None:
    objects = _objects(zoo)
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    workloads = [o for o in objects if o["kind"] in ("Rollout", "Deployment", "Job", "CronJob")]
    assert len(workloads) > 10
    for workload in workloads:
        labels = _pod_labels(workload)
        selecting = [
            p["metadata"]["name"]
            for p in policies
            if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        ]
        component = "server" if workload["kind"] in ("Rollout", "Deployment") else "training"
        assert selecting == [f"{labels['modelyard.dev/model']}-{component}"], workload["kind"]


def test_servers_admit_callers_the_mesh_gateway_and_prometheus(zoo: Workspace) -> None:
    policy = _policy(_objects(zoo), "ranker-server")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    callers, scrapes = policy["spec"]["ingress"]
    # ranker has grpc: true, so callers reach the gRPC port too
    assert callers["ports"] == [
        {"protocol": "TCP", "port": 8080},
        {"protocol": "TCP", "port": 9000},
    ]
    # Prometheus also scrapes the sidecar: merged metrics (15020) and Envoy's stats (15090)
    assert scrapes["ports"] == [{"protocol": "TCP", "port": port} for port in (8080, 15020, 15090)]
    own, web, gateway = callers["from"]
    assert own == {"podSelector": {}}  # the model's own namespace
    # kubernetes.caller_namespaces
    assert web == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "web"}}}
    # kubernetes.gateway is set: its pods (labels and namespace are settings) are admitted
    assert gateway["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "istio-system"
    }
    assert gateway["podSelector"]["matchLabels"] == {"istio": "ingressgateway"}
    # The namespace of kubernetes.prometheus_url's Service.
    assert scrapes["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ]


def test_cluster_labels_come_from_settings(make_workspace: Any, ranker_model: Any) -> None:
    root = make_workspace({"ranker": (ranker_model, {})})
    text = (root / "modelyard.yaml").read_text(encoding="utf-8")
    settings = yaml.safe_load(text)
    settings["kubernetes"] = {
        "namespace": "ml",
        "ingress_gateway_namespace": "gateways",
        "ingress_gateway_labels": {"app": "edge"},
        "prometheus_pod_labels": {"app": "prom"},
    }
    (root / "modelyard.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    policy = _policy(_objects(load_workspace(root, env={})), "ranker-server")
    callers, scrapes = policy["spec"]["ingress"]
    # no gateway set: nothing from outside the mesh, so nothing can bypass the canary
    assert callers["from"] == [{"podSelector": {}}]
    assert scrapes["from"][0]["podSelector"] == {"matchLabels": {"app": "prom"}}
    settings["kubernetes"] |= {"gateway": "gateways/public", "gateway_domain": "example.com"}
    (root / "modelyard.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    policy = _policy(_objects(load_workspace(root, env={})), "ranker-server")
    assert policy["spec"]["ingress"][0]["from"][1] == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateways"}},
        "podSelector": {"matchLabels": {"app": "edge"}},
    }


def test_training_reaches_dns_tracking_and_artifacts_only(zoo: Workspace) -> None:
    objects = _objects(zoo)
    policy = _policy(objects, "nightly-training")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in policy["spec"]  # nothing may connect to a training pod
    # zoo: tracking http://mlflow.mlops.svc:5000, artifacts s3://zoo-artifacts
    mlops = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mlops"}}}
    assert policy["spec"]["egress"] == [DNS, {"to": [mlops]}, {"ports": HTTPS}]
    job = next(o for o in objects if o["metadata"].get("generateName") == "nightly-train-")
    assert _pod_labels(job)["sidecar.istio.io/inject"] == "false"


def test_example_workspace_training_needs_dns_only(workspace: Workspace) -> None:
    # SQLite tracking and file artifacts live inside the pod.
    policy = _policy(_objects(workspace), "ctr-training")
    assert policy["spec"]["egress"] == [DNS]


@pytest.mark.parametrize(
    ("uri", "rule"),
    [
        (None, None),
        ("sqlite:///.modelyard/mlflow.db", None),
        ("/data/artifacts", None),
        ("file:///data/artifacts", None),
        ("http://localhost:5000", None),
        ("mlflow-artifacts:/artifacts", None),  # through the tracking server
        ("s3://bucket/prefix", {"ports": HTTPS}),
        ("gs://bucket", {"ports": HTTPS}),
        ("databricks", {"ports": HTTPS}),
        (
            "http://mlflow.mlops.svc.cluster.local",
            {
                "to": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mlops"}}}
                ]
            },
        ),
        ("http://mlflow:5000", {"to": [{"podSelector": {}}]}),
        ("https://mlflow.example.com/", {"ports": HTTPS}),
        (
            "postgresql+psycopg2://ml@db.example.com/mlflow",
            {"ports": [{"protocol": "TCP", "port": 5432}]},
        ),
        (
            "http://10.0.0.7:5000",
            {
                "to": [{"ipBlock": {"cidr": "10.0.0.7/32"}}],
                "ports": [{"protocol": "TCP", "port": 5000}],
            },
        ),
    ],
)
def test_endpoint_rules(zoo: Workspace, uri: str | None, rule: dict[str, Any] | None) -> None:
    assert endpoint_rule(uri, "tracking_uri", zoo.model("ranker")) == rule


def test_an_endpoint_without_a_known_port_is_refused(
    make_workspace: Callable[..., Path], ranker_model: dict[str, Any]
) -> None:
    root = make_workspace({"ranker": (ranker_model, {})})
    ws = load_workspace(root, env={"MODELYARD_TRACKING_URI": "thrift://meta.example.com/x"})
    with pytest.raises(RenderError) as caught:
        render_workspace(ws, versions=pins(ws.models))
    message = str(caught.value)
    assert f"{root / 'modelyard.yaml'}: tracking_uri: " in message
    assert "write the port in the URI (thrift://meta.example.com:PORT/...)" in message
