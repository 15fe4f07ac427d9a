"""JSON Schema export of the four config files, for editors (``modelyard schema``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from modelyard.config.schema import DeploySpec, ModelSpec, RuntimeCatalog, WorkspaceSettings

SCHEMAS: dict[str, type[BaseModel]] = {
    "modelyard.yaml": WorkspaceSettings,
    "runtimes.yaml": RuntimeCatalog,
    "model.yaml": ModelSpec,
    "deploy.yaml": DeploySpec,
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema (draft 2020-12) of that file."""
    out: dict[str, dict[str, Any]] = {}
    for name, model in SCHEMAS.items():
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = name
        out[name] = schema
    return out
