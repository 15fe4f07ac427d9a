"""Config: the schemas of a workspace's files, their loading with file:line errors, the
scaffold of a new workspace and the JSON Schema export."""

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
