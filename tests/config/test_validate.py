"""Config errors: each class of mistake is reported as file:line: field: message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelyard.config import InvalidConfig, load_workspace
from modelyard.errors import ConfigError


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _issues(root: Path) -> list[str]:
    with pytest.raises(InvalidConfig) as caught:
        load_workspace(root)
    return [str(issue) for issue in caught.value.issues]


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_example_workspace_is_valid(workspace_dir: Path) -> None:
    ws = load_workspace(workspace_dir)
    assert list(ws.models) == ["ctr"]
    entry = ws.model("ctr")
    assert entry.spec.owner.team == "ads-ranking"
    assert entry.deploy.rollout.steps == [5, 25, 50, 100]
    assert entry.deploy.rollout.shadow == 120.0
    assert ws.tracking_uri == f"sqlite:///{workspace_dir.resolve()}/.modelyard/mlflow.db"


def test_minimal_model_gets_defaults(workspace_dir: Path) -> None:
    folder = workspace_dir / "models" / "tiny"
    folder.mkdir()
    (folder / "model.yaml").write_text("id: tiny\nowner: {team: t, dri: d}\n")
    (folder / "train.py").write_text("print('hi')\n")
    entry = load_workspace(workspace_dir).model("tiny")
    assert entry.spec.framework == "sklearn"
    assert entry.deploy.resources.cpu == "500m"
    assert entry.deploy.batching.enabled


@pytest.mark.parametrize(
    ("file", "old", "new", "field", "message"),
    [
        (
            "deploy.yaml",
            "max_wait_ms: 2",
            "max_wiat_ms: 2",
            "batching.max_wiat_ms",
            "unknown key; did you mean 'max_wait_ms'?",
        ),
        (
            "deploy.yaml",
            "cpu: 500m",
            "cpu: 2 cores",
            "resources.cpu",
            "'2 cores' is not a CPU quantity",
        ),
        (
            "deploy.yaml",
            "memory: 512Mi",
            "memory: lots",
            "resources.memory",
            "'lots' is not a memory quantity",
        ),
        (
            "deploy.yaml",
            "max_batch_size: 32",
            "max_batch_size: many",
            "batching.max_batch_size",
            "valid integer",
        ),
        (
            "deploy.yaml",
            "steps: [5, 25, 50, 100]",
            "steps: [5, 250, 100]",
            "rollout.steps",
            "step weight 250.0 is outside (0, 100]",
        ),
        (
            "deploy.yaml",
            "interval: 30s",
            "interval: soon",
            "rollout.interval",
            "'soon' is not a duration",
        ),
        (
            "model.yaml",
            "max_iter: 200",
            "max_iter: [1]",
            "training.params.max_iter",
            "expected a string, a number or true/false",
        ),
        ("model.yaml", "state: production", "state: live", "state", "Input should be"),
        ("model.yaml", "id: ctr", "id: CTR_model", "id", "not a valid model id"),
        (
            "model.yaml",
            "entrypoint: train.py",
            "entrypoint: trian.py",
            "training.entrypoint",
            "script 'trian.py' does not exist",
        ),
        (
            "model.yaml",
            "runtime: sklearn-cpu",
            "runtime: sklearn-gpu",
            "runtime",
            "unknown runtime 'sklearn-gpu'",
        ),
        (
            "model.yaml",
            "    memory: 1Gi",
            "    memory: 1Gi\n    gpu: 1",
            "training.resources.gpu",
            "has no CUDA",
        ),
        ("model.yaml", "owner:", "ownr:", "ownr", "unknown key; did you mean 'owner'?"),
    ],
)
def test_each_error_names_file_line_and_field(
    workspace_dir: Path, file: str, old: str, new: str, field: str, message: str
) -> None:
    path = workspace_dir / "models" / "ctr" / file
    _edit(path, old, new)
    line = _line_of(path, new.strip().split("\n")[-1].split(":")[0] + ":")
    issues = _issues(workspace_dir)
    matching = [i for i in issues if f": {field}: " in i]
    assert matching, issues
    assert str(path) in matching[0]
    assert f"{path}:{line}: {field}: " in matching[0]
    assert message in matching[0]


def test_requests_above_limits(workspace_dir: Path) -> None:
    path = workspace_dir / "models" / "ctr" / "deploy.yaml"
    _edit(path, "memory: 512Mi", "memory: 2Gi\n  limits: {memory: 1Gi}")
    issues = _issues(workspace_dir)
    assert any("memory request 2Gi is above its limit 1Gi" in i for i in issues), issues
    assert any(f"{path}:2: resources:" in i for i in issues), issues


def test_duplicate_model_ids(workspace_dir: Path) -> None:
    shutil.copytree(workspace_dir / "models" / "ctr", workspace_dir / "models" / "ctr-copy")
    issues = _issues(workspace_dir)
    dup = [i for i in issues if "already used" in i]
    assert len(dup) == 1
    assert "models/ctr-copy/model.yaml:2: id: model id 'ctr' is already used by" in dup[0]


def test_unknown_node_class(workspace_dir: Path) -> None:
    path = workspace_dir / "models" / "ctr" / "deploy.yaml"
    path.write_text(path.read_text() + "scheduling:\n  avoid: [previous-gen, ancient]\n")
    issues = _issues(workspace_dir)
    assert any(
        "scheduling.avoid[1]: unknown node class 'ancient'" in i and "previous-gen" in i
        for i in issues
    ), issues


def test_invalid_yaml_points_at_the_line(workspace_dir: Path) -> None:
    path = workspace_dir / "models" / "ctr" / "deploy.yaml"
    path.write_text("resources:\n  cpu: 1\n   memory: [\n")
    issues = _issues(workspace_dir)
    assert issues[0].startswith(f"{path}:3: invalid YAML")


def test_duplicate_keys_are_refused(workspace_dir: Path) -> None:
    path = workspace_dir / "models" / "ctr" / "deploy.yaml"
    path.write_text("replicas: {min: 1}\nreplicas: {min: 2}\n")
    issues = _issues(workspace_dir)
    assert "key 'replicas' is written twice" in issues[0]
    assert f"{path}:2:" in issues[0]


def test_yaml_is_loaded_safely(workspace_dir: Path) -> None:
    path = workspace_dir / "models" / "ctr" / "deploy.yaml"
    path.write_text("resources: !!python/object/apply:os.system ['echo pwned']\n")
    issues = _issues(workspace_dir)
    assert "invalid YAML" in issues[0]


def test_every_problem_in_every_file_is_reported_at_once(workspace_dir: Path) -> None:
    _edit(workspace_dir / "models" / "ctr" / "deploy.yaml", "cpu: 500m", "cpu: x")
    _edit(workspace_dir / "models" / "ctr" / "model.yaml", "state: production", "state: x")
    _edit(workspace_dir / "modelyard.yaml", "backend: local", "backend: mainframe")
    issues = _issues(workspace_dir)
    assert {i.split(":")[0].rsplit("/", 1)[-1] for i in issues} == {
        "deploy.yaml",
        "model.yaml",
        "modelyard.yaml",
    }


def test_environment_overrides(workspace_dir: Path) -> None:
    ws = load_workspace(workspace_dir, env={"MODELYARD_TRACKING_URI": "sqlite:///other.db"})
    assert ws.tracking_uri == f"sqlite:///{workspace_dir.resolve()}/other.db"
    moved = load_workspace(workspace_dir, env={"MODELYARD_STATE_DIR": "/tmp/state"})
    assert moved.state_dir == Path("/tmp/state")
    assert moved.tracking_uri == "sqlite:////tmp/state/mlflow.db"
    with pytest.raises(InvalidConfig, match="backend"):
        load_workspace(workspace_dir, env={"MODELYARD_BACKEND": "nomad"})


def test_no_workspace(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no modelyard\.yaml"):
        load_workspace(tmp_path)
