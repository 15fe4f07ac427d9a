"""`render --notebook ID`: a notebook StatefulSet and headless Service that fit the official
schemas, run as the restricted non-root pod, keep the user's files on a claimed volume, hold
their token as a file, and survive `apply`'s prune."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner
from zoo_versions import pins

from modelyard.cli import app
from modelyard.config import Workspace, load_workspace
from modelyard.environments import image_for
from modelyard.k8s import (
    InMemoryCluster,
    RenderContext,
    RenderError,
    Validator,
    apply_workspace,
    workspace_plan,
)
from modelyard.k8s.notebook import notebook_objects, render_notebooks
from modelyard.k8s.output import to_documents
from modelyard.k8s.render import read_folder
from modelyard.k8s.security import CREDENTIALS_DIR, RUN_AS

runner = CliRunner()


def _objects(ws: Workspace, model_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    _, service, statefulset = notebook_objects(
        RenderContext.of(ws), ws.model(model_id), read_folder(ws.model(model_id))
    )
    return service, statefulset


def test_every_zoo_notebook_validates(zoo: Workspace, validator: Validator) -> None:
    rendered = render_notebooks(zoo, list(zoo.models))
    objects = [obj for model in rendered for obj in model.objects]
    assert [o["kind"] for o in objects] == ["NetworkPolicy", "Service", "StatefulSet"] * len(
        zoo.models
    )
    validator.check(objects)
    assert "&id" not in to_documents(objects)  # no YAML anchors or aliases
    assert "*id" not in to_documents(objects)


def test_the_pod_is_restricted_and_keeps_the_users_files_on_a_claimed_volume(
    zoo: Workspace,
) -> None:
    service, sts = _objects(zoo, "ranker")
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsUser"] == RUN_AS
    assert pod["securityContext"]["fsGroup"] == RUN_AS  # the claimed volume is writable
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert volumes[mounts["/workspace"]]["configMap"]["name"].startswith("ranker-source-")
    assert volumes[mounts[CREDENTIALS_DIR]]["secret"]["secretName"] == "modelyard-credentials"
    (claim,) = spec["volumeClaimTemplates"]
    assert mounts["/work"] == claim["metadata"]["name"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert spec["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"
    assert spec["replicas"] == 1
    # the headless Service names the pod
    assert service["spec"]["clusterIP"] == "None"
    assert spec["serviceName"] == service["metadata"]["name"] == "ranker-notebook"
    assert service["spec"]["selector"] == spec["selector"]["matchLabels"]


def test_only_the_notebook_port_is_admitted(zoo: Workspace) -> None:
    policy, _, sts = notebook_objects(
        RenderContext.of(zoo), zoo.model("ranker"), read_folder(zoo.model("ranker"))
    )
    assert policy["spec"]["podSelector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8888}]


def test_the_container_runs_modelyard_notebook_with_the_tracking_env_and_a_token_file(
    zoo: Workspace,
) -> None:
    _, sts = _objects(zoo, "ranker")
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]
    assert args[:3] == ["modelyard", "notebook", "ranker"]
    assert args[args.index("--root-dir") + 1] == "/work"
    assert args[args.index("--host") + 1] == "0.0.0.0"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.mlops.svc:5000"
    assert env["MLFLOW_EXPERIMENT_NAME"] == "ranker"
    # the token is a file from a Secret the user makes, never an environment variable
    assert not any("valueFrom" in e and "secretKeyRef" in e["valueFrom"] for e in container["env"])
    token_file = Path(args[args.index("--token-file") + 1])
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == str(token_file.parent))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "ranker-notebook-token"
    assert volume["secret"]["items"] == [{"key": "token", "path": token_file.name}]


def test_the_image_is_the_runtimes_notebook_variant(zoo: Workspace) -> None:
    """A runtime that names its own image runs it; otherwise the notebook pod runs the image
    ``images build --notebook`` makes (the runtime's tag, in its ``-notebook`` repository)."""
    _, sts = _objects(zoo, "onnx-scorer")
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    assert container["image"] == zoo.runtimes["onnx-cpu"].image
    assert container["imagePullPolicy"] == "IfNotPresent"  # pinned by digest
    _, sts = _objects(zoo, "ranker")
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    notebook_image = image_for(
        "sklearn-cpu", zoo.runtimes["sklearn-cpu"], "registry.example.com/zoo", notebook=True
    )
    assert container["image"] == notebook_image
    assert "sklearn-cpu-notebook:" in notebook_image


def test_gpu_training_resources_carry_over_with_their_toleration(zoo: Workspace) -> None:
    _, sts = _objects(zoo, "vision")
    pod = sts["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"


def test_apply_of_the_models_never_prunes_a_notebook(zoo: Workspace) -> None:
    cluster = InMemoryCluster().with_credentials("ml")
    apply_workspace(cluster, zoo, versions=pins(zoo.models))
    for obj in notebook_objects(
        RenderContext.of(zoo), zoo.model("ranker"), read_folder(zoo.model("ranker"))
    ):
        cluster.apply(obj)
    # every model removed from the specs: its objects are pruned, the notebook's are not
    shutil.rmtree(zoo.root / "models")
    plan = workspace_plan(cluster, load_workspace(zoo.root, env={}), prune=True, versions={})
    pruned = {key.name for key in (c.key for c in plan.prunes)}
    assert "ranker" in pruned  # the model's Service goes ...
    assert "ranker-notebook" not in pruned  # ... the notebook's stays


def test_a_deprecated_model_gets_no_notebook(make_workspace: Any, ranker_model: Any) -> None:
    root = make_workspace({"old": ({**ranker_model, "id": "old", "state": "deprecated"}, {})})
    ws = load_workspace(root, env={})
    with pytest.raises(RenderError, match="state"):
        notebook_objects(RenderContext.of(ws), ws.model("old"), read_folder(ws.model("old")))


def test_render_notebook_alone_emits_only_the_notebook(zoo_dir: Path) -> None:
    done = runner.invoke(app, ["render", "--notebook", "ranker", "--check", "-w", str(zoo_dir)])
    assert done.exit_code == 0, done.output
    kinds = [(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(done.stdout)]
    assert kinds == [
        ("NetworkPolicy", "ranker-notebook"),
        ("Service", "ranker-notebook"),
        ("StatefulSet", "ranker-notebook"),
    ]


def test_render_a_model_with_its_notebook_into_a_folder(zoo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["render", "ranker", "--notebook", "ranker", "--check", "--out", str(out)]
    done = runner.invoke(app, [*args, "-w", str(zoo_dir), "--version", "ranker=3"])
    assert done.exit_code == 0, done.output
    assert "1 model(s) and 1 notebook(s)" in done.output
    top = yaml.safe_load((out / "kustomization.yaml").read_text())
    assert top["resources"] == ["_workspace", "notebooks/ranker", "ranker"]
    assert (out / "notebooks" / "ranker" / "statefulset-ranker-notebook.yaml").is_file()
    assert (out / "ranker" / "rollout-ranker.yaml").is_file()


def test_render_notebook_of_an_unknown_model_exits_3(zoo_dir: Path) -> None:
    done = runner.invoke(app, ["render", "--notebook", "nope", "-w", str(zoo_dir)])
    assert done.exit_code == 3
    assert "no model 'nope'" in done.output
