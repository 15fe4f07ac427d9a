"""Hostile config files (issue 10, rows 1-4 and 6): bounded work, file:line refusals, exit 2.

Each case writes the file a hostile or careless user would write and checks that loading
refuses it with a problem that names the file and the line, changes nothing, and does bounded
work (the alias bomb is refused after composing a handful of nodes, never expanded).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from modelyard.cli import app
from modelyard.config import InvalidConfig, InvalidModelId, load_workspace, parse_model_id, yamlfile
from modelyard.config.bounds import MAX_FILE_BYTES, MAX_ISSUES_PER_FILE

BOMB = "\n".join(
    [
        'lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
        *(
            f"lol{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]"
            for n in range(1, 10)  # 10**10 strings if expanded
        ),
    ]
)


def _deploy(root: Path) -> Path:
    return root / "models" / "ctr" / "deploy.yaml"


def _model(root: Path) -> Path:
    return root / "models" / "ctr" / "model.yaml"


def _issues(root: Path) -> list[str]:
    with pytest.raises(InvalidConfig) as caught:
        load_workspace(root)
    return [str(issue) for issue in caught.value.issues]


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_alias_bomb_is_refused_at_its_first_alias_with_bounded_work(
    workspace_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _deploy(workspace_dir)
    before = path.read_text()
    path.write_text(before + BOMB + "\n")
    first_alias_line = len(before.splitlines()) + 2
    composed: list[int] = []
    original = yamlfile._BoundedLoader.compose_node

    def counting(
        self: yamlfile._BoundedLoader, parent: yaml.Node | None, index: int
    ) -> yaml.Node | None:
        composed.append(1)
        return original(self, parent, index)

    assert _issues(workspace_dir) == [
        f"{path}:{first_alias_line}: invalid YAML: aliases (*name) are not allowed in "
        "modelyard config files; write the value out"
    ]
    monkeypatch.setattr(yamlfile._BoundedLoader, "compose_node", counting)
    with pytest.raises(yamlfile.YamlSyntaxError) as caught:
        yamlfile.parse_yaml(path, BOMB)
    assert caught.value.line == 2
    # Composed: the root mapping, the first line's 12 nodes, the second key and its list, and
    # the alias that is refused. Expanded, the document would be 10**10 strings.
    assert len(composed) <= 20


def test_alias_bomb_makes_validate_exit_2_naming_file_and_line(workspace_dir: Path) -> None:
    path = _deploy(workspace_dir)
    lines = len(path.read_text().splitlines())
    path.write_text(path.read_text() + BOMB + "\n")
    done = CliRunner().invoke(app, ["validate", "-w", str(workspace_dir)])
    assert done.exit_code == 2
    assert f"deploy.yaml:{lines + 2}: invalid YAML: aliases" in done.output
    assert "Traceback" not in done.output


def test_oversized_file_is_refused_before_parsing(workspace_dir: Path) -> None:
    path = _deploy(workspace_dir)
    keys = "".join(f"k{n}: 1\n" for n in range(200_000))  # ~2 MB of unknown keys
    path.write_text(path.read_text() + keys)
    assert os.path.getsize(path) > MAX_FILE_BYTES
    (issue,) = _issues(workspace_dir)
    assert issue.startswith(f"{path}: invalid YAML: ") or issue.startswith(f"{path}: file is")
    assert "larger than 256 KiB" in issue


def test_many_unknown_keys_are_summarised(workspace_dir: Path) -> None:
    path = _deploy(workspace_dir)
    start = len(path.read_text().splitlines()) + 1
    path.write_text(path.read_text() + "".join(f"junk{n}: 1\n" for n in range(5000)))
    issues = _issues(workspace_dir)
    assert len(issues) == MAX_ISSUES_PER_FILE + 1
    assert (
        issues[0]
        == f"{path}:{start}: junk0: unknown key (valid keys: " + issues[0].split("(valid keys: ")[1]
    )
    assert issues[-1] == (
        f"{path}:{start + MAX_ISSUES_PER_FILE}: and {5000 - MAX_ISSUES_PER_FILE:,} more "
        "problems in this file"
    )


def test_deep_nesting_is_refused(workspace_dir: Path) -> None:
    path = _deploy(workspace_dir)
    path.write_text("scheduling: " + "[" * 5000 + "]" * 5000 + "\n")
    (issue,) = _issues(workspace_dir)
    assert issue.startswith(f"{path}:1: invalid YAML: nested more than 32 levels deep")


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("max: 4", "max: 1.0e+38", "replicas.max", "as an integer"),
        ("max: 4", f"max: {10**38}", "replicas.max", "less than or equal to 2147483647"),
        ("max: 4", "max: 2147483648", "replicas.max", "less than or equal to 2147483647"),
        ("rps: 2000", "rps: 1e400", "rate_limit.rps", "finite number"),
        ("rps: 2000", "rps: .nan", "rate_limit.rps", "finite number"),
        ("interval: 30s", "interval: 100000000000000000000000000d", "rollout.interval", "year"),
        ("interval: 30s", "interval: .inf", "rollout.interval", "finite number"),
        ("queue_timeout: 1s", "queue_timeout: .inf", "circuit_breaker.queue_timeout", "finite"),
        ("queue_timeout: 1s", "queue_timeout: .nan", "circuit_breaker.queue_timeout", "finite"),
        (
            "max_divergence: 0.05",
            "max_divergence: .nan",
            "rollout.analysis.max_divergence",
            "finite",
        ),
        ("cpu: 500m", "cpu: 1.0e+300", "resources.cpu", "is not a CPU quantity"),
        ("cpu: 500m", f"cpu: {10**30}", "resources.cpu", "above 1024 cores"),
        ("cpu: 500m", "cpu: .inf", "resources.cpu", "finite"),
        ("memory: 512Mi", "memory: 99999999999Pi", "resources.memory", "above 1Pi"),
        ("steps: [5, 25, 50, 100]", "steps: [5, .nan, 100]", "rollout.steps[1]", "finite"),
    ],
)
def test_out_of_range_numbers_are_refused(
    workspace_dir: Path, old: str, new: str, field: str, message: str
) -> None:
    path = _deploy(workspace_dir)
    _replace(path, old, new)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if new in text)
    (issue,) = _issues(workspace_dir)
    assert issue.startswith(f"{path}:{line}: {field}: "), issue
    assert message in issue


def test_nan_training_timeout_is_refused(workspace_dir: Path) -> None:
    path = _model(workspace_dir)
    _replace(path, "timeout: 10m", "timeout: .nan")
    line = next(n for n, t in enumerate(path.read_text().splitlines(), 1) if "timeout" in t)
    (issue,) = _issues(workspace_dir)
    assert issue.startswith(f"{path}:{line}: training.timeout: ")
    assert "finite number" in issue


@pytest.mark.parametrize("entrypoint", ["/etc/hostname", "../../../../../../etc/passwd", "~/x.py"])
def test_entrypoint_outside_the_model_folder_is_refused(
    workspace_dir: Path, entrypoint: str
) -> None:
    path = _model(workspace_dir)
    _replace(path, "entrypoint: train.py", f"entrypoint: {entrypoint}")
    line = next(n for n, t in enumerate(path.read_text().splitlines(), 1) if "entrypoint" in t)
    (issue,) = _issues(workspace_dir)
    assert issue.startswith(f"{path}:{line}: training.entrypoint: ")
    assert "relative to the model's folder" in issue


def test_entrypoint_symlink_out_of_the_folder_is_refused(
    workspace_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.py"
    outside.write_text("print('not yours')\n")
    folder = workspace_dir / "models" / "ctr"
    (folder / "link.py").symlink_to(outside)
    _replace(_model(workspace_dir), "entrypoint: train.py", "entrypoint: link.py")
    (issue,) = _issues(workspace_dir)
    assert "training.entrypoint: script 'link.py' resolves to" in issue
    assert "outside" in issue


def test_entrypoint_in_a_subfolder_is_fine(workspace_dir: Path) -> None:
    folder = workspace_dir / "models" / "ctr"
    (folder / "src").mkdir()
    (folder / "train.py").rename(folder / "src" / "train.py")
    _replace(_model(workspace_dir), "entrypoint: train.py", "entrypoint: src/train.py")
    assert load_workspace(workspace_dir).model("ctr").entrypoint.is_file()


@pytest.mark.parametrize(
    "text", ["", "Ctr", "../../tmp/x", "a/b", "ctr.", "-ctr", "ctr-", "x" * 43, "c\u0301tr"]
)
def test_parse_model_id_refuses_what_is_not_an_id(text: str) -> None:
    with pytest.raises(InvalidModelId, match="is not a valid model id"):
        parse_model_id(text)


@pytest.mark.parametrize("text", ["c", "ctr", "ctr-2", "a" * 42])
def test_parse_model_id_accepts_ids(text: str) -> None:
    assert parse_model_id(text) == text


def test_control_characters_are_refused_with_their_line(workspace_dir: Path) -> None:
    path = _deploy(workspace_dir)
    lines = len(path.read_text().splitlines())
    path.write_text(path.read_text() + "junk: \x1f\n")
    (issue,) = _issues(workspace_dir)
    assert issue == f"{path}:{lines + 1}: invalid YAML: special characters are not allowed (0x1f)"
