"""Registry: model versions and aliases (MLflow Model Registry), fetch with sha256 check.

The names load on first use (PEP 562): the lean server imports ``modelyard.registry.cache``
and must not pay for the registry's configuration and tracking imports on its way to ready.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.registry.checksum import tree_sha256
    from modelyard.registry.registry import (
        PRODUCTION_ALIAS,
        FetchedModel,
        ModelVersion,
        Registry,
    )

_WHERE = {
    "tree_sha256": "checksum",
    "PRODUCTION_ALIAS": "registry",
    "FetchedModel": "registry",
    "ModelVersion": "registry",
    "Registry": "registry",
}

__all__ = ["PRODUCTION_ALIAS", "FetchedModel", "ModelVersion", "Registry", "tree_sha256"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'modelyard.registry' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"modelyard.registry.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
