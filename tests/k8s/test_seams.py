"""The package's public API, its shipped schema copies, the lazy client import and the
training follow-loop (against the in-memory cluster, which runs Jobs)."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import modelyard.k8s
from modelyard.config import Workspace
from modelyard.k8s import InMemoryCluster
from modelyard.k8s.jobrun import run_name, run_training_job, training_job
from modelyard.k8s.jobsim import PodRun
from modelyard.k8s.validate import Validator, default_schema_dir

CRD_DIR = Path(__file__).parent.parent / "fixtures" / "crd"


def test_public_api() -> None:
    assert sorted(modelyard.k8s.__all__) == [
        "Change", "Cluster", "InMemoryCluster", "InvalidManifests", "Kind",
        "MANAGED_KINDS", "ModelManifests", "ObjectKey", "Plan", "RenderContext", "RenderError",
        "Validator", "all_objects", "apply_workspace", "describe", "desired_objects",
        "label_value", "plan", "render_model", "render_workspace", "run_training_job",
        "to_documents", "workspace_plan", "write_tree",
    ]  # fmt: skip


def test_shipped_schemas_match_the_test_fixtures() -> None:
    shipped = default_schema_dir()
    files = sorted(p.relative_to(CRD_DIR) for p in CRD_DIR.rglob("*") if p.is_file())
    assert Path("LICENSE.datree-CRDs-catalog") in files
    for rel in files:
        assert filecmp.cmp(CRD_DIR / rel, shipped / rel, shallow=False), rel


def test_strict_core_validation_refuses_unknown_fields(validator: Validator) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}], "bogus": True},
    }
    assert any("bogus" in p for p in validator.problems(service))


def test_rendering_does_not_import_lightkube() -> None:
    code = (
        "import sys, modelyard.k8s, modelyard.cli.k8s_cmds; "
        "assert 'lightkube' not in sys.modules, 'lightkube imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _jobs(exit_code: int) -> InMemoryCluster:
    """A cluster whose Job pods log two lines and exit with ``exit_code``."""

    def run(job: Mapping[str, Any], attempt: int) -> PodRun:
        return PodRun(exit_code, "epoch 1\nauc=0.9\n")

    return InMemoryCluster(run_job=run)


def test_training_run_creates_the_job_and_follows_it(workspace: Workspace) -> None:
    cluster, lines = _jobs(0), []
    code = run_training_job(
        workspace, "ctr", {"C": "0.5"}, cluster=cluster, echo=lines.append, poll_s=0
    )
    assert code == 0
    applied = [key for call, key in cluster.calls if call == "apply"]
    assert [key.split(" ")[0] for key in applied] == ["ConfigMap", "Job.batch"]
    (job,) = [o for k, o in cluster.objects.items() if k.kind == "Job"]
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-2:] == ["--param", "C=0.5"]
    assert "epoch 1" in lines
    assert any(line.startswith("[event] Normal SuccessfulCreate: Created pod") for line in lines)
    assert lines.count("auc=0.9") == 1  # a pod's logs are followed once
    assert lines[-1] == f"job {job['metadata']['name']} succeeded"


def test_failed_training_run_returns_the_pod_exit_code_after_its_retries(
    workspace: Workspace,
) -> None:
    cluster, lines = _jobs(3), []
    code = run_training_job(workspace, "ctr", {}, cluster=cluster, echo=lines.append, poll_s=0)
    assert code == 3
    (job,) = [o for k, o in cluster.objects.items() if k.kind == "Job"]
    tries = job["spec"]["backoffLimit"] + 1
    assert lines.count("auc=0.9") == tries  # every retry's pod is followed
    assert any("Warning BackoffLimitExceeded" in line for line in lines)


def test_run_names_fit_a_label_value(workspace: Workspace) -> None:
    long_id = "m" * 42
    assert len(run_name(long_id)) <= 63
    _, job = training_job(workspace, "ctr", {}, run_name("ctr"))
    assert job["metadata"]["name"].startswith("ctr-train-")
