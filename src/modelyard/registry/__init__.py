"""Registry: model versions and aliases (MLflow Model Registry), fetch with sha256 check.

The names load on first use (PEP 562): the lean server imports ``modelyard.registry.cache``
and must not pay for the registry's configuration and tracking imports on its way to ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelyard._lazy import lazy_names

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


__getattr__, __dir__ = lazy_names(__name__, _WHERE, __all__)
