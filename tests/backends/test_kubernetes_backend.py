"""The Kubernetes backend on the in-memory cluster: dry run, Argo's own promotion, usage, and
training as a Job the in-memory cluster runs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from rollout_harness import MODEL, register_base
from typer.testing import CliRunner

from modelyard.backends import backend_for
from modelyard.cli.app import app
from modelyard.config import Workspace, init_workspace, load_workspace
from modelyard.errors import ConfigError, JobFailed, NotFound
from modelyard.faults.models import register_variant
from modelyard.k8s import InMemoryCluster, ObjectKey
from modelyard.k8s.jobsim import PodRun
from modelyard.observe.usage import UsageSample
from modelyard.registry import Registry
from registry_bed import POD_REACHABLE_ENV


def _rollout(objects: list[dict[str, object]]) -> dict[str, object]:
    return next(o for o in objects if o["kind"] == "Rollout")


def test_dry_run_in_a_fresh_workspace_prints_the_pinned_objects(workspace_dir: Path) -> None:
    runner = CliRunner()
    args = ["deploy", MODEL, "--backend", "kubernetes", "--dry-run", "-w", str(workspace_dir)]
    # The example's local registry is refused for kubernetes: name one pods can reach.
    shown = runner.invoke(app, [*args, "--version", "3"], env=POD_REACHABLE_ENV)
    assert shown.exit_code == 0, shown.output
    assert "kind: Rollout" in shown.stdout
    assert "dry run: nothing was changed" in shown.stdout
    done = runner.invoke(app, [*args, "--version", "3", "--json"], env=POD_REACHABLE_ENV)
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["action"] == "planned"
    args_of = _rollout(report["objects"])["spec"]["template"]["spec"]["containers"][0]["args"]  # type: ignore[index]
    assert args_of[args_of.index("--version") + 1] == "3"
    assert any(line.startswith("+ create") and "Rollout" in line for line in report["plan"])


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, InMemoryCluster]:
    tmp = tmp_path_factory.mktemp("k8s-backend")
    init_workspace(tmp / "ws")
    ws = load_workspace(tmp / "ws")
    register_base(ws, tmp)
    cluster = InMemoryCluster()
    cluster.apply(_secret(ws.settings.kubernetes.namespace))
    return ws, cluster


def _secret(namespace: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "modelyard-credentials", "namespace": namespace},
        "data": {"admin-token": "c2VjcmV0", "mlflow-credentials": ""},
    }


def _template_hash(live: dict[str, Any]) -> str:
    """What Argo hashes into the pod template hash: the whole pod template."""
    text = json.dumps(live["spec"]["template"], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def test_argo_finishing_the_steps_moves_the_production_alias(
    shipped: tuple[Workspace, InMemoryCluster],
) -> None:
    ws, cluster = shipped
    backend = backend_for(ws, "kubernetes", cluster=cluster)
    backend.deploy(MODEL, 1)
    second = register_variant(ws, MODEL, 1, "clone")
    assert backend.deploy(MODEL, second).action == "rollout"
    key = ObjectKey("argoproj.io", "Rollout", ws.settings.kubernetes.namespace, MODEL)
    live = cluster.objects[key]
    args = live["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--version") + 1] == str(second)
    annotations = live["spec"]["template"]["metadata"]["annotations"]
    assert annotations["modelyard.dev/version"] == str(second)
    live["status"] = {"phase": "Progressing", "currentStepIndex": 1}
    live["status"]["canary"] = {"weights": {"canary": {"weight": 25}}}
    status = backend.status(MODEL)
    assert (status.serving, status.canary, status.canary_share, status.step) == (
        "1",
        str(second),
        0.25,
        2,
    )
    live["status"] = {"phase": "Healthy", "stableRS": "abc", "currentPodHash": "abc"}
    status = backend.status(MODEL)
    assert (status.serving, status.finished) == (str(second), True)
    production = Registry.for_workspace(ws).production(MODEL)
    assert production is not None
    assert production.version == second


def test_usage_comes_from_the_metrics_api_in_cores_and_bytes(
    shipped: tuple[Workspace, InMemoryCluster],
) -> None:
    ws, cluster = shipped
    namespace = ws.settings.kubernetes.namespace
    cluster.metrics.append(
        {
            "metadata": {
                "name": "p1",
                "namespace": namespace,
                "labels": {"modelyard.dev/model": MODEL},
            },
            "timestamp": "2026-01-01T00:00:00Z",
            "containers": [{"usage": {"cpu": "250000000n", "memory": "64Mi"}}],
        }
    )
    backend = backend_for(ws, "kubernetes", cluster=cluster)
    assert backend.usage(MODEL) == [UsageSample(f"server:{MODEL}", 1767225600.0, 0.25, 64 * 2**20)]


def test_a_new_version_is_a_new_pod_template(workspace_dir: Path, tmp_path: Path) -> None:
    ws = load_workspace(workspace_dir)
    register_base(ws, tmp_path)
    second = register_variant(ws, MODEL, 1, "clone")
    cluster = InMemoryCluster()
    cluster.apply(_secret(ws.settings.kubernetes.namespace))
    backend = backend_for(ws, "kubernetes", cluster=cluster)
    key = ObjectKey("argoproj.io", "Rollout", ws.settings.kubernetes.namespace, MODEL)
    backend.deploy(MODEL, 1)
    first = _template_hash(cluster.objects[key])
    backend.deploy(MODEL, second)
    # Argo starts a canary (and its analysis) only for a new template hash
    assert _template_hash(cluster.objects[key]) != first
    backend.rollback(MODEL)
    # the undo pins the stable version again: exactly the template it had
    assert _template_hash(cluster.objects[key]) == first


def test_deploy_without_the_credentials_secret_says_how_to_make_it(
    workspace_dir: Path, tmp_path: Path
) -> None:
    from modelyard.k8s.apply import MissingSecret

    ws = load_workspace(workspace_dir)
    register_base(ws, tmp_path)
    cluster = InMemoryCluster()
    backend = backend_for(ws, "kubernetes", cluster=cluster)
    with pytest.raises(MissingSecret, match="kubectl -n modelyard create secret generic"):
        backend.deploy(MODEL, 1)
    assert not [k for k in cluster.objects if k.kind == "Rollout"]  # nothing half-applied
    no_token = _secret("modelyard")
    no_token["data"] = {"mlflow-credentials": ""}
    cluster.apply(no_token)
    with pytest.raises(MissingSecret, match="no key admin-token"):
        backend.deploy(MODEL, 1)


def test_dry_run_with_nothing_registered_says_so(workspace_dir: Path) -> None:
    from modelyard.backends.kubernetes import KubernetesBackend

    ws = load_workspace(workspace_dir)  # its local registry: reachable here, and empty
    backend = KubernetesBackend(ws, cluster=InMemoryCluster(), registry=Registry.for_workspace(ws))
    with pytest.raises(NotFound, match="no version of 'ctr' is registered"):
        backend.deploy(MODEL, dry_run=True)


def test_train_runs_the_job_through_the_cluster_seam(workspace_dir: Path) -> None:
    ws = load_workspace(workspace_dir)
    runs: list[list[str]] = []

    def run(job: Mapping[str, Any], attempt: int) -> PodRun:
        runs.append(job["spec"]["template"]["spec"]["containers"][0]["args"])
        return PodRun(0 if attempt else 137, f"attempt {attempt}\n")

    cluster = InMemoryCluster(run_job=run)
    backend = backend_for(ws, "kubernetes", cluster=cluster)
    lines: list[str] = []
    done = backend.train(MODEL, ["C=0.5"], on_line=lines.append)
    assert (done.backend, done.model_id) == ("kubernetes", MODEL)
    assert runs[0][-2:] == ["--param", "C=0.5"]
    assert [line for line in lines if line.startswith("attempt")] == ["attempt 0", "attempt 1"]

    cluster.run_job = lambda job, attempt: PodRun(3, "boom\n")
    with pytest.raises(JobFailed, match="exit code 3") as failed:
        backend.train(MODEL, on_line=lines.append)
    assert failed.value.exit_code == 3
    jobs = [k for k in cluster.objects if k.kind == "Job"]
    with pytest.raises(ConfigError, match="expected a float"):  # model.yaml's C is a float
        backend.train(MODEL, ["C=abc"], on_line=lines.append)
    assert [k for k in cluster.objects if k.kind == "Job"] == jobs  # no Job for bad input


def test_deploying_a_pooled_model_applies_its_pool_with_the_neighbours_production(
    workspace_dir: Path, tmp_path: Path
) -> None:
    """The pool's template names every model's version: deploying one keeps the others'."""
    import shutil

    import yaml

    settings = yaml.safe_load((workspace_dir / "modelyard.yaml").read_text(encoding="utf-8"))
    settings["pools"] = {"small": {"memory": "1Gi"}}
    (workspace_dir / "modelyard.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    folder = workspace_dir / "models" / MODEL
    with (folder / "deploy.yaml").open("a", encoding="utf-8") as out:
        out.write("pool: small\n")
    shutil.copytree(folder, workspace_dir / "models" / "ctr-b")
    spec = workspace_dir / "models" / "ctr-b" / "model.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("id: ctr\n", "id: ctr-b\n"))
    ws = load_workspace(workspace_dir)
    base = register_base(ws, tmp_path)
    registry = Registry.for_workspace(ws)
    run_id = registry.tracking.start_run(registry.tracking.experiment_id("ctr-b"), {}, {})
    source = str(registry.fetch(MODEL, base).path)
    for _ in range(2):  # ctr-b has version 2 in production
        neighbour = registry.register(ws.model("ctr-b"), run_id, source, None, {}).version
    registry.mark_production("ctr-b", neighbour)
    cluster = InMemoryCluster()
    cluster.apply(_secret(ws.settings.kubernetes.namespace))
    backend_for(ws, "kubernetes", cluster=cluster).deploy(MODEL, base)
    namespace = ws.settings.kubernetes.namespace
    pool = cluster.objects[ObjectKey("apps", "Deployment", namespace, "pool-small")]
    annotations = pool["spec"]["template"]["metadata"]["annotations"]
    assert annotations["modelyard.dev/versions"] == f"{MODEL}={base},ctr-b={neighbour}"
    assert ObjectKey("argoproj.io", "Rollout", namespace, MODEL) not in cluster.objects
    assert ObjectKey("", "Service", namespace, MODEL) in cluster.objects
