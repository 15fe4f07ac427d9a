"""Pool config: ``modelyard.yaml`` ``pools`` and ``deploy.yaml`` ``pool``, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.config import InvalidConfig, load_workspace


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def _issues(root: Path) -> list[str]:
    with pytest.raises(InvalidConfig) as caught:
        load_workspace(root)
    return [str(issue) for issue in caught.value.issues]


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_a_model_names_its_pool_by_name_or_with_pinning(workspace_dir: Path) -> None:
    _append(workspace_dir / "modelyard.yaml", "pools:\n  small: {memory: 2Gi, load_timeout: 3s}\n")
    deploy = workspace_dir / "models" / "ctr" / "deploy.yaml"
    _append(deploy, "pool: small\n")
    ws = load_workspace(workspace_dir)
    assert ws.settings.pools["small"].memory == "2Gi"
    assert ws.settings.pools["small"].load_timeout == 3.0
    placement = ws.model("ctr").deploy.pool
    assert placement is not None
    assert (placement.name, placement.pinned) == ("small", False)

    deploy.write_text(
        deploy.read_text().replace("pool: small\n", "pool: {name: small, pinned: true}\n")
    )
    placement = load_workspace(workspace_dir).model("ctr").deploy.pool
    assert placement is not None
    assert (placement.name, placement.pinned) == ("small", True)


def test_an_unknown_pool_is_a_workspace_error_at_its_line(workspace_dir: Path) -> None:
    _append(workspace_dir / "modelyard.yaml", "pools:\n  small: {memory: 2Gi}\n")
    deploy = workspace_dir / "models" / "ctr" / "deploy.yaml"
    _append(deploy, "pool: big\n")
    (issue,) = _issues(workspace_dir)
    assert issue.startswith(f"{deploy}:{_line_of(deploy, 'pool: big')}: pool: unknown pool 'big'")
    assert "pools: small" in issue


@pytest.mark.parametrize(
    ("pools", "field", "message"),
    [
        ("pools:\n  small: {memory: 10Mi}\n", "pools.small.memory", "at least 64Mi"),
        ("pools:\n  small: {memory: lots}\n", "pools.small.memory", "lots"),
        ("pools:\n  small: {}\n", "pools.small.memory", "required"),
        ("pools:\n  small: {memory: 1Gi, memroy: 2Gi}\n", "pools.small.memroy", "unknown key"),
        ("pools:\n  small: {memory: 1Gi, load_timeout: 0s}\n", "pools.small.load_timeout", ""),
        ("pools:\n  Big_Pool: {memory: 1Gi}\n", "pools.Big_Pool", ""),
    ],
)
def test_bad_pool_settings_name_file_line_and_field(
    workspace_dir: Path, pools: str, field: str, message: str
) -> None:
    path = workspace_dir / "modelyard.yaml"
    _append(path, pools)
    issues = _issues(workspace_dir)
    assert len(issues) == 1, issues
    prefix = f"{path}:{_line_of(path, 'small' if 'small' in pools else 'Big_Pool')}: {field}"
    assert issues[0].startswith(prefix), issues
    assert message in issues[0]


def test_a_bad_pool_placement_names_its_field(workspace_dir: Path) -> None:
    _append(workspace_dir / "modelyard.yaml", "pools:\n  small: {memory: 2Gi}\n")
    deploy = workspace_dir / "models" / "ctr" / "deploy.yaml"
    _append(deploy, "pool: {name: small, pined: true}\n")
    (issue,) = _issues(workspace_dir)
    assert issue.startswith(f"{deploy}:{_line_of(deploy, 'pined')}: pool.pined"), issue


@pytest.mark.parametrize(
    ("pool", "valid"),
    [
        ("small", True),
        ({"name": "small", "pinned": True}, True),
        ({"name": "small", "pined": True}, False),
        ("Small_Pool", False),
        (None, True),
    ],
)
def test_the_exported_schema_accepts_both_forms_of_pool(pool: object, valid: bool) -> None:
    import jsonschema

    from modelyard.config.export import json_schemas

    schema = json_schemas()["deploy.yaml"]
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors({"pool": pool}))
    assert (not errors) == valid, errors
