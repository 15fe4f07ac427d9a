"""Rendering: every object of the example workspace and of the ten-model zoo validates, and
each spec field lands where it should."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner
from zoo_versions import pins, workspace_pin_args

from modelyard.config import Workspace
from modelyard.k8s import Validator, all_objects, render_workspace
from modelyard.k8s.output import write_tree


def _everything(ws: Workspace) -> list[dict[str, Any]]:
    rendered = render_workspace(ws, versions=pins(ws.models))
    return [*all_objects(rendered), *(m.job for m in rendered if m.job is not None)]


def _name(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return str(meta.get("name") or meta["generateName"])


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The object ``kind``/``name``; a name ending in ``-`` finds a Job template's
    ``generateName``, one ending in ``-*`` a hashed name's prefix."""
    if name.endswith("-*"):
        prefix = name[:-1]
        return next(o for o in objects if o["kind"] == kind and _name(o).startswith(prefix))
    return next(o for o in objects if o["kind"] == kind and _name(o) == name)


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def test_example_workspace_validates(workspace: Workspace, validator: Validator) -> None:
    objects = _everything(workspace)
    assert {o["kind"] for o in objects} >= {"Rollout", "AnalysisTemplate", "VirtualService"}
    assert [p for obj in objects for p in validator.problems(obj)] == []


def test_zoo_validates(zoo: Workspace, validator: Validator) -> None:
    objects = _everything(zoo)
    assert len({o["metadata"]["labels"]["modelyard.dev/model"] for o in objects}) == 10
    assert [p for obj in objects for p in validator.problems(obj)] == []


def test_validator_catches_mistakes(zoo: Workspace, validator: Validator) -> None:
    objects = all_objects(render_workspace(zoo, ["ranker"], pins(zoo.models)))
    rollout = _find(objects, "Rollout", "ranker")
    rollout["spec"]["strategy"]["canary"]["steps"][0]["setWieght"] = 5
    hpa = _find(objects, "HorizontalPodAutoscaler", "ranker")
    hpa["spec"]["maxReplicas"] = "many"
    assert any("setWieght" in p for p in validator.problems(rollout))
    assert any("maxReplicas" in p for p in validator.problems(hpa))


def test_rendering_is_deterministic(zoo: Workspace) -> None:
    assert render_workspace(zoo, versions=pins(zoo.models)) == render_workspace(
        zoo, versions=pins(zoo.models)
    )


def test_every_object_carries_ownership_labels(zoo: Workspace) -> None:
    for obj in _everything(zoo):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "modelyard"
        assert labels["app.kubernetes.io/part-of"] == "zoo"
        assert labels["modelyard.dev/model"] == labels["app.kubernetes.io/name"]
        assert {"app.kubernetes.io/instance", "app.kubernetes.io/component"} <= set(labels)
        assert obj["metadata"]["namespace"] == "ml"
    long_id = "a-very-long-model-identifier-of-42-chars-x"
    cm = _find(_everything(zoo), "ConfigMap", f"{long_id}-workspace-*")
    assert cm["metadata"]["labels"]["modelyard.dev/team"] == "Risk-Fraud"
    assert cm["metadata"]["labels"]["modelyard.dev/dri"] == "Zo-O-Brien-zoe_at_example.com"


def test_pods_follow_the_restricted_standard_and_probe_health(zoo: Workspace) -> None:
    for obj in _everything(zoo):
        if obj["kind"] not in ("Rollout", "Deployment", "Job"):
            continue
        pod = _pod(obj)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        container = pod["containers"][0]
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        if obj["kind"] != "Job":
            assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
            assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
            assert container["lifecycle"]["preStop"] == {"sleep": {"seconds": 10}}
            assert pod["terminationGracePeriodSeconds"] > 10
            assert len(pod["topologySpreadConstraints"]) == 2


def test_numa_gives_guaranteed_whole_cpus(zoo: Workspace) -> None:
    resources = _pod(_find(_everything(zoo), "Rollout", "pinned"))["containers"][0]["resources"]
    assert resources["requests"] == resources["limits"] == {"cpu": "4", "memory": "8Gi"}


def test_avoid_keeps_pods_off_node_classes_without_tolerations(zoo: Workspace) -> None:
    pod = _pod(_find(_everything(zoo), "Rollout", "picky"))
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"] == [
        {
            "key": "node.kubernetes.io/instance-type",
            "operator": "NotIn",
            "values": ["m4.large", "c4.large"],
        },
        {"key": "node.example.com/lifecycle", "operator": "NotIn", "values": ["spot"]},
    ]
    assert "tolerations" not in pod


def test_gpu_model_asks_for_nvidia_gpus(zoo: Workspace) -> None:
    objects = _everything(zoo)
    serving = _pod(_find(objects, "Rollout", "vision"))
    assert serving["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert serving["tolerations"][0]["key"] == "nvidia.com/gpu"
    job = _find(objects, "Job", "vision-train-")
    assert _pod(job)["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"
    # two attempts of the 6 h timeout (a retry for a lost node), plus time to start
    assert job["spec"]["activeDeadlineSeconds"] == 2 * 6 * 3600 + 15 * 60


def test_rollout_off_gives_a_deployment(zoo: Workspace) -> None:
    objects = [
        o for o in _everything(zoo) if o["metadata"]["labels"]["modelyard.dev/model"] == "plain"
    ]
    kinds = sorted(o["kind"] for o in objects)
    assert "Deployment" in kinds
    assert "Rollout" not in kinds
    assert "AnalysisTemplate" not in kinds
    hpa = _find(objects, "HorizontalPodAutoscaler", "plain")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "plain",
    }
    assert "replicas" not in _find(objects, "Deployment", "plain")["spec"]
    assert hpa["spec"]["minReplicas"] == 2  # production: one drain never takes it down


def test_autoscaling_rules(zoo: Workspace) -> None:
    objects = _everything(zoo)
    metrics = _find(objects, "HorizontalPodAutoscaler", "busy")["spec"]["metrics"]
    # the server container's own use, not the pod's (which adds the Istio sidecar)
    assert [m["type"] for m in metrics] == ["ContainerResource", "Pods"]
    assert metrics[0]["containerResource"]["name"] == "memory"
    assert metrics[0]["containerResource"]["container"] == "server"
    assert metrics[1]["pods"]["metric"]["name"] == "modelyard_requests_per_second"
    assert metrics[1]["pods"]["target"]["averageValue"] == "12500m"
    steady = [o for o in objects if _name(o) == "steady"]
    assert "HorizontalPodAutoscaler" not in {o["kind"] for o in steady}
    assert _find(objects, "Rollout", "steady")["spec"]["replicas"] == 2


def test_canary_steps_shadow_and_analysis(zoo: Workspace) -> None:
    objects = _everything(zoo)
    canary = _find(objects, "Rollout", "ranker")["spec"]["strategy"]["canary"]
    steps = canary["steps"]
    # the canary gets the mirrored share of the traffic and the same share of the pods
    assert steps[0] == {"setCanaryScale": {"weight": 20}}
    assert steps[1] == {
        "setMirrorRoute": {
            "name": "mirror",
            "percentage": 20,
            "match": [{"path": {"prefix": "/"}}],
        }
    }
    assert steps[3] == {"setMirrorRoute": {"name": "mirror"}}
    assert steps[2] == {"pause": {"duration": "120s"}}
    assert [s["setWeight"] for s in steps if "setWeight" in s] == [5, 25, 50, 100]
    assert canary["trafficRouting"]["managedRoutes"] == [{"name": "mirror"}]
    steady = _find(objects, "Rollout", "steady")["spec"]["strategy"]["canary"]
    gate = {
        "analysis": {
            "templates": [{"templateName": "steady-gate"}],
            "args": steady["analysis"]["args"],
        }
    }
    assert steady["steps"] == [
        {"setWeight": 10},
        {"pause": {"duration": "120s"}},
        gate,
        {"setWeight": 100},
    ]
    assert "managedRoutes" not in steady["trafficRouting"]
    template = _find(objects, "AnalysisTemplate", "ranker")
    queries = {m["name"]: m["provider"]["prometheus"]["query"] for m in template["spec"]["metrics"]}
    assert "modelyard_requests_total" in queries["error-rate"]
    assert "modelyard_request_duration_seconds_bucket" in queries["latency-p90-ratio"]
    assert "modelyard_shadow_diverged_total" in queries["shadow-divergence"]
    assert "{{args.canary-hash}}" in queries["error-rate"]


def test_alerts_per_model(zoo: Workspace) -> None:
    rule = _find(_everything(zoo), "PrometheusRule", "ranker")
    alerts = [r["alert"] for r in rule["spec"]["groups"][0]["rules"]]
    assert alerts == [
        "ModelyardHighErrorRate",
        "ModelyardHighLatency",
        "ModelyardUnavailable",
        "ModelyardPodCpuHot",
    ]


def test_training_job_cronjob_and_images(zoo: Workspace) -> None:
    objects = _everything(zoo)
    cron = _find(objects, "CronJob", "nightly-retrain")
    assert cron["spec"]["schedule"] == "0 3 * * *"
    assert cron["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 2
    # the schedule runs the model's whole pipeline in the cluster, not bare training
    cron_args = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert cron_args == [
        *("modelyard", "pipeline", "run", "nightly", "--in-cluster", "-w", "/workspace")
    ]
    nightly = {
        o["kind"] for o in objects if o["metadata"]["labels"]["modelyard.dev/model"] == "nightly"
    }
    # development: trained, not served
    assert nightly == {"ConfigMap", "CronJob", "Job", "NetworkPolicy"}
    job = _find(objects, "Job", "ranker-train-")
    args = _pod(job)["containers"][0]["args"]
    assert args[:4] == ["modelyard", "train", "ranker", "--backend"]
    assert "--in-cluster" in args
    image = {
        name: _pod(_find(objects, "Rollout", name))["containers"][0]["image"]
        for name in ("ranker", "onnx-scorer", "steady")
    }
    # the runtime's own image, else the tag `modelyard images build` gives it
    assert image["onnx-scorer"] == zoo.runtimes["onnx-cpu"].image
    assert re.fullmatch(
        r"registry\.example\.com/zoo/sklearn-cpu:3\.11-[0-9a-f]{12}", image["ranker"]
    )
    assert re.fullmatch(r"registry\.example\.com/zoo/py312:3\.12-[0-9a-f]{12}", image["steady"])


def test_write_tree_is_kustomize_friendly(zoo: Workspace, tmp_path: Path) -> None:
    rendered = render_workspace(zoo, versions=pins(zoo.models))
    out = tmp_path / "out"
    write_tree(rendered, out, "ml")
    first = {p: p.read_bytes() for p in out.rglob("*.yaml")}
    write_tree(rendered, out, "ml")
    assert {p: p.read_bytes() for p in out.rglob("*.yaml")} == first
    top = yaml.safe_load((out / "kustomization.yaml").read_text())
    assert len(top["resources"]) == 10
    ranker = yaml.safe_load((out / "ranker" / "kustomization.yaml").read_text())
    assert all((out / "ranker" / name).is_file() for name in ranker["resources"])
    assert "training-job.yaml" not in ranker["resources"]


def test_cli_render_check(zoo_dir: Path, tmp_path: Path) -> None:
    from modelyard.cli import app

    pinned = workspace_pin_args(zoo_dir)
    result = CliRunner().invoke(
        app, ["render", "--check", "--out", str(tmp_path / "o"), "-w", str(zoo_dir), *pinned]
    )
    assert result.exit_code == 0, result.output
    assert "validated" in result.output
    result = CliRunner().invoke(
        app, ["render", "ranker", "-w", str(zoo_dir), "--version", "ranker=3"]
    )
    assert result.exit_code == 0
    docs = [d for d in yaml.safe_load_all(result.output) if d]
    assert {d["metadata"]["labels"].get("modelyard.dev/model") for d in docs} == {"ranker", None}
    assert {d["kind"] for d in docs if "modelyard.dev/model" not in d["metadata"]["labels"]} == {
        "ServiceAccount"
    }


@pytest.mark.parametrize("model_id", ["nope"])
def test_render_unknown_model_is_not_found(zoo: Workspace, model_id: str) -> None:
    from modelyard.errors import NotFound

    with pytest.raises(NotFound, match="nope"):
        render_workspace(zoo, [model_id], pins(zoo.models))


def test_rendered_yaml_has_no_anchors_or_aliases(zoo: Workspace) -> None:
    """A selector or probe shared between objects is written out in full each time, never as
    ``&id001``/``*id001`` (which kubectl reads but reviewers and some tools do not)."""
    from modelyard.k8s import to_documents

    text = to_documents(all_objects(render_workspace(zoo, versions=pins(zoo.models))))
    assert "matchLabels" in text
    assert re.search(r"[&*]id\d{3}", text) is None


def test_the_writer_never_anchors_a_shared_dict() -> None:
    from modelyard.k8s.output import to_yaml

    selector = {"matchLabels": {"app": "ctr"}}
    text = to_yaml({"a": {"selector": selector}, "b": {"selector": selector}})
    assert re.search(r"[&*]id\d{3}", text) is None
    assert text.count("app: ctr") == 2
