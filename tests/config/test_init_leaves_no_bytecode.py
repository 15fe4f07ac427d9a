"""``modelyard init`` writes the template's files and the example dataset, and nothing else:
no ``__pycache__`` in the new model folder, also where Python writes bytecode (a fresh machine
has no ``PYTHONDONTWRITEBYTECODE``; this project's shells set it, which hid the folder)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from modelyard.config import init_workspace


def test_init_writes_no_pycache_where_bytecode_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    root = tmp_path / "ws"

    written = init_workspace(root)

    assert not list(root.rglob("__pycache__"))
    assert sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file()) == sorted(
        p.relative_to(root) for p in written
    )
