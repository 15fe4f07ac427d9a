"""The CLI's workspace commands: output, --json and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from modelyard.cli import app

runner = CliRunner()


def test_init_then_validate(tmp_path: Path) -> None:
    target = tmp_path / "ws"
    done = runner.invoke(app, ["init", str(target)])
    assert done.exit_code == 0, done.output
    assert (target / "models" / "ctr" / "model.yaml").is_file()
    done = runner.invoke(app, ["validate", "-w", str(target), "--json"])
    assert done.exit_code == 0
    assert json.loads(done.stdout) == {
        "valid": True,
        "root": str(target.resolve()),
        "models": ["ctr"],
    }


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "ws"
    runner.invoke(app, ["init", str(target)])
    (target / "models" / "ctr" / "train.py").write_text("# mine\n")
    done = runner.invoke(app, ["init", str(target)])
    assert done.exit_code == 4
    assert "already has" in done.output
    assert (target / "models" / "ctr" / "train.py").read_text() == "# mine\n"


def test_validate_reports_problems_with_exit_code_2(workspace_dir: Path) -> None:
    path = workspace_dir / "models" / "ctr" / "deploy.yaml"
    path.write_text(path.read_text().replace("cpu: 500m", "cpu: 2 cores"))
    done = runner.invoke(app, ["validate", "-w", str(workspace_dir), "--json"])
    assert done.exit_code == 2
    report = json.loads(done.stdout)
    assert report["valid"] is False
    assert report["issues"][0]["line"] == 3
    assert report["issues"][0]["field"] == "resources.cpu"


def test_schema_export(tmp_path: Path) -> None:
    done = runner.invoke(app, ["schema", "--out", str(tmp_path)])
    assert done.exit_code == 0
    model = json.loads((tmp_path / "model.schema.json").read_text())
    assert "owner" in model["required"]
    deploy = json.loads((tmp_path / "deploy.schema.json").read_text())
    assert deploy["additionalProperties"] is False
    assert "description" in deploy["properties"]["rollout"]


def test_unknown_model_is_not_found(workspace_dir: Path) -> None:
    done = runner.invoke(app, ["versions", "nope", "-w", str(workspace_dir)])
    assert done.exit_code == 3
    assert "no model 'nope'" in done.output
