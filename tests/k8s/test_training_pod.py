"""The training Job of the example workspace can run: its pod gets the model's whole folder
(everything ``train.py`` imports), its evaluation data from the artifact store, a deadline with
room to start, a failure policy that forgives a node drain, and a name of its own per run."""

from __future__ import annotations

import ast
import base64
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelyard.config import init_workspace, load_workspace
from modelyard.k8s import RenderError, render_workspace
from modelyard.k8s.jobrun import run_name, training_job
from modelyard.k8s.render import read_folder


def _example(tmp_path: Path, **settings: Any) -> Path:
    root = tmp_path / "ws"
    init_workspace(root)
    path = root / "modelyard.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    data |= {"backend": "kubernetes", "tracking_uri": "http://mlflow.mlops.svc:5000"}
    data |= {"artifact_store": "s3://acme-ml/artifacts", **settings}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return root


def _pod_files(configmap: dict[str, Any], job: dict[str, Any]) -> dict[str, bytes]:
    """Path under /workspace -> bytes, as the kubelet lays the ConfigMap out in the pod."""
    pod = job["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "workspace"]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    text, binary = configmap.get("data", {}), configmap.get("binaryData", {})
    files = {}
    for item in volume["configMap"]["items"]:
        key = item["key"]
        assert "/" not in key  # a ConfigMap key cannot hold one
        content = text[key].encode() if key in text else base64.b64decode(binary[key])
        files[item["path"]] = content
    return files


def _local_imports(script: bytes) -> set[str]:
    tree = ast.parse(script)
    names = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    names |= {
        n.module.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module and n.level == 0
    }
    return {n for n in names if n not in sys.stdlib_module_names}


def test_the_example_job_carries_everything_train_py_imports(tmp_path: Path) -> None:
    ws = load_workspace(_example(tmp_path))
    configmap, job = training_job(ws, "ctr", {}, "ctr-train-1")
    files = _pod_files(configmap, job)
    script = files["models/ctr/train.py"]
    folder = ws.model("ctr").dir
    local = {n for n in _local_imports(script) if (folder / f"{n}.py").exists()}
    assert local == {"impressions"}
    for name in local:  # byte for byte what the workspace holds
        assert files[f"models/ctr/{name}.py"] == (folder / f"{name}.py").read_bytes()
    # a workspace the pod can load: settings, runtime, the model's specs
    assert {"modelyard.yaml", "runtimes.yaml", "models/ctr/model.yaml"} <= set(files)
    # the data is not in the ConfigMap: the pod reads it from the artifact store
    assert not [p for p in files if p.endswith(".parquet")]
    model = yaml.safe_load(files["models/ctr/model.yaml"])
    assert model["evaluation"]["dataset"] == "s3://acme-ml/artifacts/datasets/ctr/eval.parquet"


def test_the_job_survives_a_drain_and_has_room_to_start(tmp_path: Path) -> None:
    ws = load_workspace(_example(tmp_path))
    (rendered,) = render_workspace(ws, ["ctr"], {"ctr": 1})
    job = rendered.job
    assert job is not None
    spec = job["spec"]
    assert spec["backoffLimit"] >= 1
    assert spec["podFailurePolicy"]["rules"] == [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    ]
    timeout_s = 10 * 60  # model.yaml: training.timeout 10m
    assert spec["activeDeadlineSeconds"] > timeout_s * (spec["backoffLimit"] + 1)
    # the template makes a new Job at each `kubectl create`: never a name clash
    assert job["metadata"]["generateName"] == "ctr-train-"
    assert "name" not in job["metadata"]


def test_two_runs_in_the_same_second_get_different_names() -> None:
    now = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    assert run_name("ctr", now, "a1b2") != run_name("ctr", now, "c3d4")
    assert run_name("ctr", now) != run_name("ctr", now)
    assert len(run_name("m" * 42, now)) <= 63


def test_a_changed_script_is_a_new_source_configmap(tmp_path: Path) -> None:
    root = _example(tmp_path)
    first, _ = training_job(load_workspace(root), "ctr", {}, "a")
    (root / "models" / "ctr" / "impressions.py").write_text("# changed\n", encoding="utf-8")
    second, _ = training_job(load_workspace(root), "ctr", {}, "b")
    assert first["metadata"]["name"] != second["metadata"]["name"]
    assert first["metadata"]["name"].startswith("ctr-source-")


def test_binary_files_travel_as_binary_data(tmp_path: Path) -> None:
    root = _example(tmp_path)
    (root / "models" / "ctr" / "vocab.bin").write_bytes(bytes(range(256)))
    (root / "models" / "ctr" / "__pycache__").mkdir()
    (root / "models" / "ctr" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    ws = load_workspace(root)
    configmap, job = training_job(ws, "ctr", {}, "a")
    files = _pod_files(configmap, job)
    assert files["models/ctr/vocab.bin"] == bytes(range(256))
    assert not [p for p in files if "__pycache__" in p]
    assert "eval.parquet" not in " ".join(read_folder(ws.model("ctr")))


def test_a_folder_too_big_for_a_configmap_is_refused(tmp_path: Path) -> None:
    root = _example(tmp_path)
    (root / "models" / "ctr" / "big.csv").write_text("x,y\n" * 300_000, encoding="utf-8")
    with pytest.raises(RenderError, match=r"over the 900 KiB.*largest: models/ctr/big.csv"):
        training_job(load_workspace(root), "ctr", {}, "a")


def _lay_out(root: Path, files: dict[str, bytes]) -> Path:
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return root


def test_both_slices_load_as_workspaces_in_the_pod(tmp_path: Path) -> None:
    ws = load_workspace(_example(tmp_path))
    (rendered,) = render_workspace(ws, ["ctr"], {"ctr": 1})
    rollout = next(o for o in rendered.objects if o["kind"] == "Rollout")
    server_cm = next(o for o in rendered.objects if o["metadata"]["name"].startswith("ctr-work"))
    server = load_workspace(_lay_out(tmp_path / "server", _pod_files(server_cm, rollout)), env={})
    assert server.settings.backend == "local"  # the pod is the machine the model runs on
    served, spec = server.model("ctr").deploy, ws.model("ctr").deploy
    for section in ("rate_limit", "circuit_breaker", "batching", "prediction_log"):
        assert getattr(served, section) == getattr(spec, section), section
    assert server.model("ctr").spec.serving == ws.model("ctr").spec.serving
    source_cm = next(o for o in rendered.objects if o["metadata"]["name"].startswith("ctr-sour"))
    assert rendered.job is not None
    trainer = load_workspace(
        _lay_out(tmp_path / "train", _pod_files(source_cm, rendered.job)), env={}
    )
    assert trainer.model("ctr").spec.training == ws.model("ctr").spec.training
