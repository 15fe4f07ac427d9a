"""checkov, a policy scanner, finds nothing to fail in what ``modelyard render`` writes, for the
example workspace, for the ten-model zoo and for a workspace with a pool, training Jobs and
CronJobs included.

checkov pins many packages of its own, so it lives in its own virtual environment under
``.cache/checkov`` (tests/tool_venvs.py). checkov has no checks for Argo's
``Rollout``, so each Rollout's pod template is also scanned as a Deployment twin: the pods
that Argo runs meet the same policy. One checkov run per workspace, shared by the tests.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner
from zoo_versions import workspace_pin_args

from conftest import write_pooled
from modelyard.config import init_workspace
from registry_bed import POD_REACHABLE_ENV
from tool_venvs import tool_for_test

WORKLOAD_KINDS = frozenset({"Deployment", "Job", "CronJob"})
# A first run installs checkov from PyPI before it scans: more than the default 300 s budget
# on a slow runner.
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="session")
def checkov() -> Path:
    """checkov's executable (tests/tool_venvs.py); in CI a failed install fails the test."""
    return tool_for_test("checkov") / "bin" / "checkov"


@dataclass(frozen=True)
class Scan:
    """What checkov reported over one workspace's rendered tree."""

    workspace: str
    root: Path
    report: dict[str, Any]

    def results(self, outcome: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.report["results"][f"{outcome}_checks"]
        return found


def _rollout_twins(tree: Path, into: Path) -> None:
    for path in sorted(tree.rglob("rollout-*.yaml")):
        rollout = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = {key: rollout["spec"][key] for key in ("selector", "template")}
        twin = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": rollout["metadata"]}
        target = into / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump({**twin, "spec": spec}), encoding="utf-8")


def _render(workspace: Path, out: Path) -> None:
    from modelyard.cli import app

    args = ["render", "--check", "--out", str(out), "-w", str(workspace)]
    args += workspace_pin_args(workspace)
    result = CliRunner().invoke(app, args, env=POD_REACHABLE_ENV)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session", params=["example", "zoo", "pool"])
def scan(
    request: pytest.FixtureRequest, checkov: Path, tmp_path_factory: pytest.TempPathFactory
) -> Scan:
    root = tmp_path_factory.mktemp(f"checkov-{request.param}")
    if request.param == "example":
        workspace = root / "workspace"
        init_workspace(workspace)
    elif request.param == "pool":  # a pool's Deployment and its models' routes
        workspace = write_pooled(root / "workspace")
    else:
        workspace = request.getfixturevalue("zoo_session_dir")
    _render(workspace, root / "scanned" / "rendered")
    _rollout_twins(root / "scanned" / "rendered", root / "scanned" / "rollout-pods")
    command = [str(checkov), "-d", str(root / "scanned"), "--framework", "kubernetes"]
    command += ["-o", "json", "--compact", "--skip-download"]
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=280)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"checkov printed no report:\n{done.stderr[-2000:]}") from exc
    return Scan(request.param, root / "scanned", report)


def test_no_check_fails(scan: Scan) -> None:
    failed = [
        f"{r['check_id']} {r['resource']} {r['file_path']}: {r['check_name']}"
        for r in scan.results("failed")
    ]
    assert failed == [], "checkov failed checks:\n" + "\n".join(failed)
    assert scan.report["summary"]["parsing_errors"] == 0


def test_every_workload_and_its_pods_are_scanned(scan: Scan) -> None:
    files = {
        "/" + str(path.relative_to(scan.root))
        for path in scan.root.rglob("*.yaml")
        if yaml.safe_load(path.read_text(encoding="utf-8")).get("kind") in WORKLOAD_KINDS
    }
    passed = scan.results("passed")
    checks_per_file = {f: sum(r["file_path"] == f for r in passed) for f in files}
    assert files
    assert all(count >= 20 for count in checks_per_file.values()), checks_per_file
    network = {r["file_path"] for r in passed if r["check_id"] == "CKV2_K8S_6"}
    if scan.workspace == "pool":  # no Rollout there: the pool's Deployment runs the pods
        assert any(f.endswith("/deployment-pool-small.yaml") for f in network), network
    else:
        assert any("/rollout-pods/" in f for f in network), "Rollout pods have no NetworkPolicy"
    assert any(f.endswith("training-job.yaml") for f in network)


def test_only_tag_images_are_suppressed_with_a_reason(scan: Scan) -> None:
    skipped = scan.results("skipped")
    assert {r["check_id"] for r in skipped} <= {"CKV_K8S_43"}
    for result in skipped:
        assert (
            "Pin it in runtimes.yaml with image: repo@sha256:"
            in (result["check_result"]["suppress_comment"])
        )
    pinned = [r for r in scan.results("passed") if "onnx-scorer" in r["file_path"]]
    if scan.workspace == "zoo":
        # The zoo's onnx runtime gives a digest: checked and passed, not suppressed.
        assert {"CKV_K8S_43", "CKV_K8S_15"} <= {r["check_id"] for r in pinned}
        assert not [r for r in skipped if "onnx-scorer" in r["file_path"]]
