"""Fixtures shared by every test: fresh workspaces, and one trained workspace per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelyard.config import Workspace, init_workspace, load_workspace


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("KUBECONFIG"):
        return
    skip = pytest.mark.skip(reason="needs a Kubernetes cluster: set KUBECONFIG")
    for item in items:
        if "cluster" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    """A fresh workspace made by `init`, with the example model `ctr`."""
    root = tmp_path / "ws"
    init_workspace(root)
    return root


@pytest.fixture
def workspace(workspace_dir: Path) -> Workspace:
    return load_workspace(workspace_dir)


@pytest.fixture(scope="session")
def trained_workspace_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace in which `ctr` was trained twice (versions 1 and 2, C=1.0 then C=0.01).
    Tests must not change it."""
    from modelyard.backends.local.backend import LocalBackend

    root = tmp_path_factory.mktemp("trained") / "ws"
    init_workspace(root)
    backend = LocalBackend(load_workspace(root))
    backend.train("ctr", ["n_samples=4000"])
    backend.train("ctr", ["n_samples=4000", "C=0.01"])
    return root
