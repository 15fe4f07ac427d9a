"""Server pods always pin the version they serve: a new version is a new pod template (so Argo
runs a canary and its analysis, and an abort restores the stable one), and nothing a `train`
does reaches the stable pods' template or files."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner
from zoo_versions import cluster_with_secret, pins

from modelyard.config import Workspace, load_workspace
from modelyard.k8s import ObjectKey, RenderError, apply_workspace, render_workspace
from modelyard.k8s.jobrun import run_training_job
from registry_bed import POD_REACHABLE_ENV


def _rollout(ws: Workspace, version: int) -> dict[str, Any]:
    (rendered,) = render_workspace(ws, ["ranker"], {**pins(ws.models), "ranker": version})
    return next(o for o in rendered.objects if o["kind"] == "Rollout")


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [d for k in keys for d in _differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [path]


def test_two_versions_differ_only_where_the_version_does(zoo: Workspace) -> None:
    three, four = _rollout(zoo, 3)["spec"]["template"], _rollout(zoo, 4)["spec"]["template"]
    args = three["spec"]["containers"][0]["args"]
    at = args.index("--version")
    assert args[at + 1] == "3"
    assert three["metadata"]["annotations"]["modelyard.dev/version"] == "3"
    assert _differences(three, four) == [
        ".metadata.annotations.modelyard.dev/version",
        f".spec.containers[0].args[{at + 1}]",
    ]


def test_a_served_model_is_never_rendered_unpinned(zoo: Workspace) -> None:
    versions = {k: v for k, v in pins(zoo.models).items() if k != "ranker"}
    with pytest.raises(RenderError, match=r"--version ranker=N") as caught:
        render_workspace(zoo, ["ranker"], versions)
    assert "no registry version to pin" in str(caught.value)
    # a model that only trains serves nothing: no version needed
    (nightly,) = render_workspace(zoo, ["nightly"], {})
    assert nightly.job is not None


def test_render_says_when_it_cannot_know_the_version(workspace_dir: Path) -> None:
    from modelyard.cli import app

    result = CliRunner().invoke(app, ["render", "-w", str(workspace_dir)], env=POD_REACHABLE_ENV)
    assert result.exit_code == 2
    assert "no registry version to pin" in result.output
    assert "--version ctr=N" in result.output
    pinned = CliRunner().invoke(
        app, ["render", "-w", str(workspace_dir), "--version", "ctr=7"], env=POD_REACHABLE_ENV
    )
    assert pinned.exit_code == 0, pinned.output
    docs = [d for d in yaml.safe_load_all(pinned.output) if d]
    rollout = next(d for d in docs if d["kind"] == "Rollout")
    args = rollout["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--version") + 1] == "7"


def test_the_workspace_configmap_is_named_by_its_content(zoo: Workspace, zoo_dir: Path) -> None:
    def configmap(ws: Workspace) -> dict[str, Any]:
        (rendered,) = render_workspace(ws, ["ranker"], pins(ws.models))
        return next(
            o
            for o in rendered.objects
            if o["metadata"].get("labels", {}).get("modelyard.dev/slice") == "workspace"
        )

    first = configmap(zoo)
    name = first["metadata"]["name"]
    assert name.startswith("ranker-workspace-")
    assert len(name) == len("ranker-workspace-") + 10
    template = _rollout(zoo, 3)["spec"]["template"]["spec"]
    (volume,) = [v for v in template["volumes"] if v["name"] == "workspace"]
    assert volume["configMap"]["name"] == name
    # the training script is not the server's: editing it changes nothing the servers read
    (zoo_dir / "models" / "ranker" / "train.py").write_text("print('v2')\n", encoding="utf-8")
    edited = load_workspace(zoo_dir, env={})
    assert configmap(edited) == first
    assert _rollout(edited, 3) == _rollout(zoo, 3)


def test_a_second_train_leaves_the_stable_template_and_files_alone(
    zoo: Workspace, zoo_dir: Path
) -> None:
    cluster = cluster_with_secret()
    apply_workspace(cluster, zoo, versions=pins(zoo.models))
    key = ObjectKey("argoproj.io", "Rollout", "ml", "ranker")
    stable = copy.deepcopy(cluster.objects[key]["spec"]["template"])
    (volume,) = [v for v in stable["spec"]["volumes"] if v["name"] == "workspace"]
    files_key = ObjectKey("", "ConfigMap", "ml", volume["configMap"]["name"])
    files = copy.deepcopy(cluster.objects[files_key]["data"])
    for run in ("first", "second"):
        (zoo_dir / "models" / "ranker" / "train.py").write_text(f"# {run}\n", encoding="utf-8")
        ws = load_workspace(zoo_dir, env={})
        assert run_training_job(ws, "ranker", {}, cluster=cluster, echo=lambda _: None) == 0
    assert cluster.objects[key]["spec"]["template"] == stable
    assert cluster.objects[files_key]["data"] == files
    jobs = [k.name for k in cluster.objects if k.kind == "Job"]
    assert len(set(jobs)) == 2
