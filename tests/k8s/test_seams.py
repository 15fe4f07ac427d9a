"""The package's public API, its shipped schema copies, the lazy client import and the
training follow-loop (with a fake cluster)."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import modelyard.k8s
from modelyard.config import Workspace
from modelyard.k8s.jobrun import run_name, run_training_job, training_job
from modelyard.k8s.validate import Validator, default_schema_dir

CRD_DIR = Path(__file__).parent.parent / "fixtures" / "crd"


def test_public_api() -> None:
    assert sorted(modelyard.k8s.__all__) == [
        "Change", "Cluster", "InMemoryCluster", "InvalidManifests", "JobCluster", "Kind",
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


class FakeJobs:
    """A JobCluster whose single pod logs two lines and exits with ``exit_code``."""

    def __init__(self, exit_code: int) -> None:
        self.exit_code = exit_code
        self.applied: list[dict[str, Any]] = []
        self.polls = 0

    def apply(self, obj: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        self.applied.append(dict(obj))
        return dict(obj)

    def job_status(self, namespace: str, name: str) -> dict[str, Any]:
        self.polls += 1
        if self.polls < 2:
            return {"active": 1}
        kind = "Failed" if self.exit_code else "Complete"
        return {"conditions": [{"type": kind, "status": "True", "reason": "R", "message": "m"}]}

    def job_pods(self, namespace: str, job: str) -> list[dict[str, Any]]:
        state = {"terminated": {"exitCode": self.exit_code}}
        return [
            {
                "metadata": {"name": f"{job}-abcde"},
                "status": {"phase": "Running", "containerStatuses": [{"state": state}]},
            }
        ]

    def follow_logs(self, namespace: str, pod: str) -> Iterator[str]:
        yield from ("epoch 1\n", "auc=0.9\n")

    def events(self, namespace: str, name: str) -> list[str]:
        return ["Normal SuccessfulCreate: Created pod"]


def test_training_run_creates_the_job_and_follows_it(workspace: Workspace) -> None:
    fake, lines = FakeJobs(0), []
    code = run_training_job(
        workspace, "ctr", {"C": "0.5"}, cluster=fake, echo=lines.append, poll_s=0
    )
    assert code == 0
    assert [o["kind"] for o in fake.applied] == ["ConfigMap", "Job"]
    args = fake.applied[1]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-2:] == ["--param", "C=0.5"]
    assert "epoch 1" in lines
    assert "[event] Normal SuccessfulCreate: Created pod" in lines
    assert lines.count("auc=0.9") == 1  # a pod's logs are followed once


def test_failed_training_run_returns_the_pod_exit_code(workspace: Workspace) -> None:
    assert run_training_job(workspace, "ctr", {}, cluster=FakeJobs(3), echo=print, poll_s=0) == 3


def test_run_names_fit_a_label_value(workspace: Workspace) -> None:
    long_id = "m" * 42
    assert len(run_name(long_id)) <= 63
    _, job = training_job(workspace, "ctr", {}, run_name("ctr"))
    assert job["metadata"]["name"].startswith("ctr-train-")
