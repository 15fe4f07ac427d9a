"""Golden files pin the rendered output of one model of the zoo, byte for byte.

Regenerate after an intended change with ``MODELYARD_UPDATE_GOLDEN=1 pytest tests/k8s`` and
review the diff of ``tests/k8s/golden/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from zoo_versions import pins

from modelyard.config import Workspace
from modelyard.k8s import render_workspace
from modelyard.k8s.output import model_files

GOLDEN = Path(__file__).parent / "golden"
MODELS = ["ranker", "plain", "nightly"]  # nightly: the scheduled pipeline's CronJob


@pytest.mark.parametrize("model_id", MODELS)
def test_render_matches_golden(zoo: Workspace, model_id: str) -> None:
    (rendered,) = render_workspace(zoo, [model_id], pins(zoo.models))
    files = model_files(rendered, "ml")
    folder = GOLDEN / model_id
    if os.environ.get("MODELYARD_UPDATE_GOLDEN"):
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.yaml"):
            stale.unlink()
        for name, content in files.items():
            (folder / name).write_text(content, encoding="utf-8")
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.yaml"))}
    assert sorted(on_disk) == sorted(files), "set MODELYARD_UPDATE_GOLDEN=1 to regenerate"
    for name, content in files.items():
        assert on_disk[name] == content, f"{model_id}/{name} differs from its golden file"
