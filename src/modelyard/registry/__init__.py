"""Registry: model versions and aliases (MLflow Model Registry), fetch with sha256 check."""

from modelyard.registry.checksum import tree_sha256
from modelyard.registry.registry import PRODUCTION_ALIAS, FetchedModel, ModelVersion, Registry

__all__ = ["PRODUCTION_ALIAS", "FetchedModel", "ModelVersion", "Registry", "tree_sha256"]
