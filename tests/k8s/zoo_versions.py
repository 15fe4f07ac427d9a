"""What the Kubernetes tests need to render and apply: registry versions to pin (served pods
always name the version they serve) and a cluster holding the credentials Secret (apply
checks that it exists)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from modelyard.k8s import InMemoryCluster

VERSION = 3
"""The version every model of the tests serves, unless a test says otherwise."""


def pins(model_ids: Iterable[str]) -> dict[str, int]:
    """``{id: VERSION}`` for each model."""
    return dict.fromkeys(model_ids, VERSION)


def pin_args(model_ids: Iterable[str]) -> list[str]:
    """``--version id=VERSION`` for each model, for the CLI."""
    return [arg for model_id in model_ids for arg in ("--version", f"{model_id}={VERSION}")]


def workspace_pin_args(root: Path) -> list[str]:
    """:func:`pin_args` for every model folder of the workspace at ``root``."""
    return pin_args(sorted(p.name for p in (root / "models").iterdir() if p.is_dir()))


def cluster_with_secret(namespace: str = "ml") -> InMemoryCluster:
    """An empty in-memory cluster holding only the credentials Secret."""
    return InMemoryCluster().with_credentials(namespace)
