"""The CLI's one error edge: modelyard errors become exit codes, anything else one line + log."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import modelyard.backends
from modelyard.cli.app import app
from modelyard.errors import Unavailable
from registry_bed import POD_REACHABLE_ENV


def _boom(*_: object, **__: object) -> None:
    raise RuntimeError("the disk fell off")


def test_an_unexpected_exception_is_one_line_and_a_logged_traceback(
    workspace_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(modelyard.backends, "backend_for", _boom)
    result = CliRunner().invoke(app, ["history", "ctr", "-w", str(workspace_dir)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "unexpected RuntimeError: the disk fell off" in lines[0]
    log = workspace_dir / ".modelyard" / "logs" / "modelyard.log"
    text = log.read_text()
    assert "Traceback (most recent call last)" in text
    assert "the disk fell off" in text


def test_a_modelyard_error_maps_to_its_exit_code(
    workspace_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(*_: object, **__: object) -> None:
        raise Unavailable("the server is busy", 7.0)

    monkeypatch.setattr(modelyard.backends, "backend_for", busy)
    result = CliRunner().invoke(app, ["history", "ctr", "-w", str(workspace_dir)])
    assert result.exit_code == 5
    assert "the server is busy" in result.output
    assert "7" in result.output


def test_a_missing_kubeconfig_is_a_config_error(
    workspace_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nowhere"))
    monkeypatch.setenv("HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["diff", "-w", str(workspace_dir)], env=POD_REACHABLE_ENV)
    assert result.exit_code == 2, result.output
    assert "kubeconfig" in result.output
