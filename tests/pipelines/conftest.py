"""Fixtures of the pipeline tests: a workspace whose ``ctr`` has a daily schedule."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.config import Workspace, load_workspace


@pytest.fixture
def scheduled_ws(workspace_dir: Path) -> Workspace:
    path = workspace_dir / "models" / "ctr" / "model.yaml"
    text = path.read_text().replace("  timeout: 10m\n", '  timeout: 10m\n  schedule: "0 3 * * *"\n')
    path.write_text(text)
    return load_workspace(workspace_dir)
