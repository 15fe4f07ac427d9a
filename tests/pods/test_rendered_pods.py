"""The rendered pods run: the example workspace rendered for a registry pods can reach (a real
MLflow server, a real S3 store), the runtime image built with podman, then the rendered
training Job's pod template trains and registers a version in real containers, and the
rendered Rollout's pod template serves that version and answers OIP v2 infer with what the
model gives in process.

The harness (``podrun.py``) keeps every field of the template that can run on one machine and
lists what it drops; what the pods need at run time (HOME, a writable /tmp, the credentials
and the admin token as files, the version pin) comes from the rendered objects, never from the
test.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow.sklearn
import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient
from podrun import PodRun, by_kind_name, pod_template

from image_bed import BuiltImage
from modelyard.config import init_workspace, load_workspace
from modelyard.registry import Registry
from registry_bed import POD_HOSTS, RemoteRegistry

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

PREFIX = "artifacts"  # the session registry's store for `ctr` (experiments are per model id)
ADMIN_TOKEN = "pod-test-admin-token"
DROPPED_OK = {
    "pod.serviceAccountName",
    "pod.automountServiceAccountToken",
    "pod.affinity",
    "pod.topologySpreadConstraints",
    "pod.terminationGracePeriodSeconds",
    "pod.tolerations",
    "pod.nodeSelector",
    "pod.priorityClassName",
    "server.livenessProbe",
    "server.startupProbe",
    "server.lifecycle",
}
"""Scheduling, the API token, and the kubelet's restart and drain hooks: nothing a
container on one machine can do, and nothing the test's assertions depend on."""


@dataclass(frozen=True)
class Rendered:
    root: Path
    objects: dict[tuple[str, str], Any]

    def one(self, kind: str) -> Mapping[str, Any]:
        (found,) = [o for (k, _), o in self.objects.items() if k == kind]
        return found


def _workspace(root: Path, registry: RemoteRegistry, built: BuiltImage) -> Path:
    """The example workspace, named the way pods see the registry, on the image's runtime."""
    init_workspace(root)
    settings = root / "modelyard.yaml"
    settings.write_text(
        settings.read_text().replace("backend: local", "backend: kubernetes")
        + registry.pod_settings(PREFIX),
        encoding="utf-8",
    )
    # the same runtime as the built image (its tag hashes the runtime's spec)
    (root / "runtimes.yaml").write_text(
        (built.workspace / "runtimes.yaml").read_text(), encoding="utf-8"
    )
    return root


def _render(root: Path, out: Path, *pins: str) -> Rendered:
    versions = [arg for pin in pins for arg in ("--version", pin)]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelyard",
            "render",
            "-w",
            str(root),
            "--out",
            str(out),
            *versions,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    documents = []
    for path in sorted(out.rglob("*.yaml")):
        text = path.read_text()
        assert re.search(r"[&*]id\d{3}", text) is None, f"{path} holds YAML anchors or aliases"
        documents += [d for d in yaml.safe_load_all(text) if d]
    return Rendered(root, by_kind_name(iter(documents)))


def _secret(registry: RemoteRegistry) -> dict[str, Any]:
    """The Secret a platform engineer creates once per namespace (docs/kubernetes.md)."""

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "modelyard-credentials"},
        "data": {
            "aws-credentials": b64(registry.credentials_file.read_text()),
            "mlflow-credentials": b64("[mlflow]\n"),
            "admin-token": b64(ADMIN_TOKEN),
        },
    }


def _upload_dataset(root: Path, registry: RemoteRegistry) -> None:
    """``aws s3 cp models/ctr/eval.parquet s3://<bucket>/<prefix>/datasets/ctr/``: training
    pods read data from the artifact store, never from a ConfigMap."""
    data = (root / "models" / "ctr" / "eval.parquet").read_bytes()
    registry.s3_client().put_object(
        Bucket=registry.bucket, Key=f"{PREFIX}/datasets/ctr/eval.parquet", Body=data
    )


@pytest.fixture(scope="module")
def trained_in_pod(
    remote_registry: RemoteRegistry,
    sklearn_image: BuiltImage,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Rendered, int, list[str]]:
    base = tmp_path_factory.mktemp("pods")
    root = _workspace(base / "ws", remote_registry, sklearn_image)
    _upload_dataset(root, remote_registry)
    client = MlflowClient(remote_registry.tracking_uri)
    before = {int(v.version) for v in client.search_model_versions("name = 'ctr'")}
    rendered = _render(root, base / "render-1", "ctr=1")
    job = rendered.objects[("Job", "ctr-train-")]
    objects = {**rendered.objects, ("Secret", "modelyard-credentials"): _secret(remote_registry)}
    spec = pod_template(job)
    assert spec["containers"][0]["image"] == sklearn_image.tag
    with PodRun("ctr-train", spec, objects, base / "job-pod", POD_HOSTS) as pod:
        done = pod.run_to_completion(timeout=1200)
        assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
        dropped = list(pod.dropped)
    after = {int(v.version) for v in client.search_model_versions("name = 'ctr'")}
    (version,) = after - before
    return rendered, version, dropped


def test_the_training_pod_registers_a_version_with_its_artifacts_in_s3(
    trained_in_pod: tuple[Rendered, int, list[str]], remote_registry: RemoteRegistry
) -> None:
    _, version, dropped = trained_in_pod
    client = MlflowClient(remote_registry.tracking_uri)
    mv = client.get_model_version("ctr", str(version))
    assert mv.tags["modelyard.sha256"]
    run = client.get_run(mv.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.artifact_uri.startswith(f"s3://{remote_registry.bucket}/{PREFIX}/ctr/")
    listed = remote_registry.s3_client().list_objects_v2(
        Bucket=remote_registry.bucket, Prefix=f"{PREFIX}/ctr/"
    )
    keys = [o["Key"] for o in listed.get("Contents", [])]
    logged = str(mv.source).rstrip("/").rsplit("/", 1)[-1]  # models:/m-<id>: the logged model
    assert any(k.endswith("/MLmodel") and logged in k for k in keys), (mv.source, keys)
    assert "auc" in run.data.metrics  # the script's own metric, logged from the pod
    assert set(dropped) <= DROPPED_OK | {"train.livenessProbe"}, dropped


def test_the_server_pod_serves_the_pinned_version_like_the_model_in_process(
    trained_in_pod: tuple[Rendered, int, list[str]],
    remote_registry: RemoteRegistry,
    tmp_path: Path,
) -> None:
    first, version, _ = trained_in_pod
    rendered = _render(first.root, tmp_path / "render-2", f"ctr={version}")
    rollout = rendered.one("Rollout")
    spec = pod_template(rollout)
    server = spec["containers"][0]
    assert rollout["spec"]["template"]["metadata"]["annotations"]["modelyard.dev/version"] == str(
        version
    )
    assert ["--version", str(version)] == server["args"][
        server["args"].index("--version") : server["args"].index("--version") + 2
    ]
    objects = {**rendered.objects, ("Secret", "modelyard-credentials"): _secret(remote_registry)}
    with PodRun("ctr-server", spec, objects, tmp_path / "server-pod", POD_HOSTS) as pod:
        assert set(pod.dropped) <= DROPPED_OK, pod.dropped
        pod.start()
        pod.wait_ready(deadline_s=300)
        rows = np.random.default_rng(7).normal(size=(5, 8))
        body = {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [5, 8],
                    "datatype": "FP64",
                    "data": rows.ravel().tolist(),
                }
            ]
        }
        base = pod.readiness_url().rsplit("/v2/", 1)[0]
        reply = httpx.post(f"{base}/v2/models/ctr/infer", json=body, timeout=30)
        assert reply.status_code == 200, reply.text
        answer = reply.json()
        # the admin API answers the token from the Secret, and nothing else
        admin = httpx.get(f"{base}/admin/models/ctr", timeout=10)
        authorised = httpx.get(
            f"{base}/admin/models/ctr",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )
    assert answer["model_version"] == str(version)
    # in process: the same version fetched on this machine, verified, loaded by MLflow
    host = tmp_path / "host"
    init_workspace(host)
    (host / "modelyard.yaml").write_text(
        (host / "modelyard.yaml").read_text() + remote_registry.workspace_settings(PREFIX)
    )
    registry = Registry.for_workspace(load_workspace(host))
    local = registry.fetch("ctr", version)
    expected = mlflow.sklearn.load_model(str(local.path)).predict_proba(rows)
    out = answer["outputs"][0]
    np.testing.assert_allclose(np.array(out["data"]).reshape(5, 2), expected, rtol=1e-12)
    assert admin.status_code in (401, 403)
    assert authorised.status_code == 200, authorised.text


def test_the_pool_pod_serves_a_pooled_model_by_name(
    trained_in_pod: tuple[Rendered, int, list[str]],
    remote_registry: RemoteRegistry,
    tmp_path: Path,
) -> None:
    """``ctr`` in pool ``small``: the rendered pool Deployment's pod runs ``serve --pool`` and
    answers for ctr by its name, and 404 for a model not in the pool."""
    import shutil

    first, version, _ = trained_in_pod
    root = tmp_path / "pooled"
    shutil.copytree(first.root, root, ignore=shutil.ignore_patterns(".modelyard"))
    with (root / "modelyard.yaml").open("a", encoding="utf-8") as out:
        out.write("\npools:\n  small: {memory: 512Mi}\n")
    with (root / "models" / "ctr" / "deploy.yaml").open("a", encoding="utf-8") as out:
        out.write("\npool: small\n")
    rendered = _render(root, tmp_path / "render-pool", f"ctr={version}")
    assert ("Rollout", "ctr") not in rendered.objects
    pool = rendered.objects[("Deployment", "pool-small")]
    spec = pod_template(pool)
    assert spec["containers"][0]["args"][:4] == ["modelyard", "serve", "--pool", "small"]
    objects = {**rendered.objects, ("Secret", "modelyard-credentials"): _secret(remote_registry)}
    with PodRun("pool-server", spec, objects, tmp_path / "pool-pod", POD_HOSTS) as pod:
        assert set(pod.dropped) <= DROPPED_OK, pod.dropped
        pod.start()
        pod.wait_ready(deadline_s=300)
        base = pod.readiness_url().rsplit("/v2/", 1)[0]
        body = {
            "inputs": [{"name": "input-0", "shape": [1, 8], "datatype": "FP64", "data": [0.1] * 8}]
        }
        reply = httpx.post(f"{base}/v2/models/ctr/infer", json=body, timeout=60)
        missing = httpx.post(f"{base}/v2/models/not-pooled/infer", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    # The pool serves the production alias, else the newest: the version trained above.
    assert reply.json()["model_version"] == str(version)
    assert missing.status_code == 404
