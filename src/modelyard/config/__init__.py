"""Config: the schemas of a workspace's files, their loading with file:line errors, the
scaffold of a new workspace and the JSON Schema export.

The names load on first use (PEP 562): the lean model server imports ``config.bounds`` and
``config.quantity`` and must not pay for the pydantic schemas, YAML and the scaffold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelyard._lazy import lazy_names

if TYPE_CHECKING:
    from modelyard.config.export import json_schemas
    from modelyard.config.ids import InvalidModelId, ModelId, parse_model_id
    from modelyard.config.issues import ConfigIssue, InvalidConfig
    from modelyard.config.quantity import (
        cpu_millis,
        duration_seconds,
        format_duration,
        memory_bytes,
    )
    from modelyard.config.scaffold import init_workspace
    from modelyard.config.schema import (
        Analysis,
        Autoscaling,
        Batching,
        CircuitBreaker,
        DeploySpec,
        ModelSpec,
        NodeClass,
        PredictionLog,
        RateLimit,
        RequestLimits,
        Resources,
        Rollout,
        Runtime,
        Scheduling,
        WorkspaceSettings,
    )
    from modelyard.config.workspace import ModelEntry, Workspace, find_root, load_workspace

_WHERE = {
    "json_schemas": "export",
    "InvalidModelId": "ids",
    "ModelId": "ids",
    "parse_model_id": "ids",
    "ConfigIssue": "issues",
    "InvalidConfig": "issues",
    "cpu_millis": "quantity",
    "duration_seconds": "quantity",
    "format_duration": "quantity",
    "memory_bytes": "quantity",
    "init_workspace": "scaffold",
    "Analysis": "schema",
    "Autoscaling": "schema",
    "Batching": "schema",
    "CircuitBreaker": "schema",
    "DeploySpec": "schema",
    "ModelSpec": "schema",
    "NodeClass": "schema",
    "PredictionLog": "schema",
    "RateLimit": "schema",
    "RequestLimits": "schema",
    "Resources": "schema",
    "Rollout": "schema",
    "Runtime": "schema",
    "Scheduling": "schema",
    "WorkspaceSettings": "schema",
    "ModelEntry": "workspace",
    "Workspace": "workspace",
    "find_root": "workspace",
    "load_workspace": "workspace",
}

__all__ = [
    "Analysis",
    "Autoscaling",
    "Batching",
    "CircuitBreaker",
    "ConfigIssue",
    "DeploySpec",
    "InvalidConfig",
    "InvalidModelId",
    "ModelEntry",
    "ModelId",
    "ModelSpec",
    "NodeClass",
    "PredictionLog",
    "RateLimit",
    "RequestLimits",
    "Resources",
    "Rollout",
    "Runtime",
    "Scheduling",
    "Workspace",
    "WorkspaceSettings",
    "cpu_millis",
    "duration_seconds",
    "find_root",
    "format_duration",
    "init_workspace",
    "json_schemas",
    "load_workspace",
    "memory_bytes",
    "parse_model_id",
]


__getattr__, __dir__ = lazy_names(__name__, _WHERE, __all__)
