"""Registry: model versions and aliases (MLflow Model Registry), fetch with sha256 check."""

from modelyard.registry.checksum import tree_sha256
from modelyard.registry.registry import FetchedModel, ModelVersion, Registry

__all__ = ["FetchedModel", "ModelVersion", "Registry", "tree_sha256"]
