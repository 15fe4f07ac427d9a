"""What a policy scanner asks of every modelyard container, checked without the scanner: CPU
and memory limits, the pull policy that fits the image reference, credentials as files, and
a suppression only where the image has no digest, with its reason."""

from __future__ import annotations

from typing import Any

import pytest
from zoo_versions import pins

from modelyard.config import Workspace
from modelyard.k8s import all_objects, render_workspace

WORKLOADS = ("Rollout", "Deployment", "Job", "CronJob")


def _workloads(ws: Workspace) -> list[dict[str, Any]]:
    rendered = render_workspace(ws, versions=pins(ws.models))
    objects = [*all_objects(rendered), *(m.job for m in rendered if m.job is not None)]
    return [o for o in objects if o["kind"] in WORKLOADS]


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    pod: dict[str, Any] = spec["template"]["spec"]
    return pod


def _name(obj: dict[str, Any]) -> str:
    """The name, or a Job template's ``generateName`` without its trailing ``-``."""
    meta = obj["metadata"]
    return str(meta.get("name") or meta["generateName"].rstrip("-"))


def _find(ws: Workspace, kind: str, name: str) -> dict[str, Any]:
    return next(o for o in _workloads(ws) if o["kind"] == kind and _name(o) == name)


def test_every_container_has_cpu_and_memory_limits(zoo: Workspace) -> None:
    for obj in _workloads(zoo):
        for container in _pod(obj)["containers"]:
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), obj["kind"]


@pytest.mark.parametrize(
    ("kind", "name", "requests", "limits"),
    [
        ("Rollout", "ranker", "500m", "1"),  # twice the request by default
        ("Rollout", "onnx-scorer", "250m", "1"),  # limits.cpu wins
        ("Rollout", "pinned", "4", "4"),  # numa: Guaranteed, requests = limits
        ("Job", "vision-train", "8", "16"),
    ],
)
def test_cpu_limits(zoo: Workspace, kind: str, name: str, requests: str, limits: str) -> None:
    resources = _pod(_find(zoo, kind, name))["containers"][0]["resources"]
    assert (resources["requests"]["cpu"], resources["limits"]["cpu"]) == (requests, limits)


def test_pull_policy_follows_the_image_reference(zoo: Workspace) -> None:
    policies = {
        (_name(obj), c["image"].partition("@")[2][:7], c["imagePullPolicy"])
        for obj in _workloads(zoo)
        for c in _pod(obj)["containers"]
        if _name(obj) in ("ranker", "onnx-scorer", "onnx-scorer-train")
    }
    # A tag can move: ask the registry at every start. A digest cannot: the cached copy is it.
    assert policies == {
        ("ranker", "", "Always"),
        ("onnx-scorer", "sha256:", "IfNotPresent"),
        ("onnx-scorer-train", "sha256:", "IfNotPresent"),
    }


def test_credentials_are_files_never_environment(zoo: Workspace) -> None:
    for obj in _workloads(zoo):
        pod = _pod(obj)
        container = pod["containers"][0]
        assert "envFrom" not in container
        assert not [e for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})]
        secrets = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
        assert {s["secretName"] for s in secrets.values()} == {"modelyard-credentials"}
        # required: a pod without its credentials must not start and fail later
        assert all("optional" not in s and s["defaultMode"] == 0o440 for s in secrets.values())
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert all(mounts[name]["readOnly"] for name in secrets)
        assert mounts["mlflow-credentials"]["mountPath"] == "/tmp/.mlflow"  # ~/.mlflow, HOME=/tmp
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["AWS_SHARED_CREDENTIALS_FILE"] == "/var/run/secrets/modelyard/aws-credentials"


def test_only_tag_images_carry_a_suppression_and_it_says_why(zoo: Workspace) -> None:
    for obj in _workloads(zoo):
        annotations = obj["metadata"]["annotations"]
        skips = {k: v for k, v in annotations.items() if k.startswith("checkov.io/skip")}
        image = _pod(obj)["containers"][0]["image"]
        if "@sha256:" in image:
            assert skips == {}, _name(obj)
            continue
        (value,) = skips.values()
        check, why = value.split("=")  # checkov splits on '=': exactly one
        assert check == "CKV_K8S_43"
        assert "names its image by tag" in why
        assert "image: repo@sha256:<digest>" in why
