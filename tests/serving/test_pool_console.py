"""The console's index page shows each pool: which models are loaded, their measured memory
and evictions (escaped like every user value)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from modelyard.backends.fake import InMemoryBackend
from modelyard.config import Workspace
from modelyard.console import ConsoleData, build_app
from modelyard.registry import ModelVersion


class _NoVersions:
    def versions(self, name: str) -> list[ModelVersion]:
        return []


def _view(model: str) -> dict[str, Any]:
    return {
        "pool": "small",
        "running": True,
        "url": "http://127.0.0.1:1",
        "memory_budget_bytes": 2 * 2**30,
        "memory_used_bytes": 48 * 2**20,
        "loaded": 1,
        "evictions": 7,
        "models": [
            {"model": model, "loaded": True, "pinned": True, "version": "3",
             "memory_bytes": 48 * 2**20, "loads": 2, "evictions": 1},
            {"model": "cold", "loaded": False, "pinned": False, "version": None,
             "memory_bytes": 0, "loads": 0, "evictions": 0},
        ],
    }  # fmt: skip


def test_the_index_shows_each_pool_and_its_models(workspace: Workspace) -> None:
    hostile = "<b>x</b>"
    data = ConsoleData(workspace, InMemoryBackend(), _NoVersions(), pools=lambda: [_view(hostile)])
    page = TestClient(build_app(data, "t")).get("/").text
    assert "Pool small: 1 loaded, 48 of 2048 MiB measured, 7 evictions" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<b>x</b>" not in page
    assert "48.0" in page
    assert "cold" in page


def test_no_pool_section_without_pools(workspace: Workspace) -> None:
    data = ConsoleData(workspace, InMemoryBackend(), _NoVersions())
    assert "Pool " not in TestClient(build_app(data, "t")).get("/").text
