"""The OpenAPI 3 document the server publishes at ``/openapi.json``.

Handwritten to follow the Open Inference Protocol v2 REST schema (tensors, metadata, errors) plus
the v1 predict route and the admin API, so that generated clients and fuzzers see what the
handlers really accept and answer.
"""

from __future__ import annotations

from typing import Any

_ERROR = {
    "description": "Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/error"}}},
}
_DATATYPES = [
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
]  # fmt: skip


def _json(ref: str, description: str = "OK") -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _params(*names: str) -> list[dict[str, Any]]:
    return [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names
    ]


def _get(
    summary: str, ok: dict[str, Any], *params: str, **errors: dict[str, Any]
) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": _params(*params),
            "responses": {"200": ok, **errors},
        }
    }


def _infer(summary: str, body: str, ok: str, *params: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": _params(*params),
            "requestBody": {"required": True, **_json(body)},
            "responses": {
                "200": _json(ok),
                "400": _ERROR,
                "404": _ERROR,
                "429": _ERROR,
                "500": _ERROR,
                "503": _ERROR,
            },
        }
    }


def _schemas() -> dict[str, Any]:
    tensor_meta = {
        "type": "object",
        "required": ["name", "datatype", "shape"],
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
        },
    }
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "datatype": {"type": "string", "enum": _DATATYPES},
            "parameters": {"type": "object"},
            "data": {"type": "array"},
        },
    }
    return {
        "error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
        },
        "server_metadata": {
            "type": "object",
            "required": ["name", "version", "extensions"],
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "extensions": {"type": "array", "items": {"type": "string"}},
            },
        },
        "model_metadata": {
            "type": "object",
            "required": ["name", "platform", "inputs", "outputs"],
            "properties": {
                "name": {"type": "string"},
                "versions": {"type": "array", "items": {"type": "string"}},
                "platform": {"type": "string"},
                "inputs": {"type": "array", "items": tensor_meta},
                "outputs": {"type": "array", "items": tensor_meta},
            },
        },
        "ready": {"type": "object"},
        "inference_request": {
            "type": "object",
            "required": ["inputs"],
            "properties": {
                "id": {"type": "string"},
                "parameters": {"type": "object"},
                "inputs": {"type": "array", "items": tensor},
                "outputs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "parameters": {"type": "object"},
                        },
                    },
                },
            },
        },
        "inference_response": {
            "type": "object",
            "required": ["model_name", "outputs"],
            "properties": {
                "model_name": {"type": "string"},
                "model_version": {"type": "string"},
                "id": {"type": "string"},
                "parameters": {"type": "object"},
                "outputs": {"type": "array", "items": tensor},
            },
        },
        "v1_request": {
            "type": "object",
            "required": ["instances"],
            "properties": {"instances": {"type": "array", "items": {"type": "array"}}},
        },
        "v1_response": {
            "type": "object",
            "required": ["predictions"],
            "properties": {"predictions": {"type": "array"}},
        },
    }


def openapi_document(model: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document of a server serving ``model``."""
    ready = _json("ready")
    paths: dict[str, Any] = {
        "/v2": _get("Server metadata", _json("server_metadata")),
        "/v2/health/live": _get("Server live", ready),
        "/v2/health/ready": _get("Server ready", ready, **{"400": ready}),
        "/v2/models/{name}": _get(
            "Model metadata", _json("model_metadata"), "name", **{"400": _ERROR, "404": _ERROR}
        ),
        "/v2/models/{name}/versions/{version}": _get(
            "Model version metadata",
            _json("model_metadata"),
            "name",
            "version",
            **{"400": _ERROR, "404": _ERROR},
        ),
        "/v2/models/{name}/ready": _get(
            "Model ready", ready, "name", **{"400": ready, "404": _ERROR}
        ),
        "/v2/models/{name}/versions/{version}/ready": _get(
            "Model version ready", ready, "name", "version", **{"400": ready, "404": _ERROR}
        ),
        "/v2/models/{name}/infer": _infer(
            "Inference", "inference_request", "inference_response", "name"
        ),
        "/v2/models/{name}/versions/{version}/infer": _infer(
            "Inference on a version", "inference_request", "inference_response", "name", "version"
        ),
        "/v1/models/{name}:predict": _infer("v1 predict", "v1_request", "v1_response", "name"),
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "text", "content": {"text/plain": {}}}},
            }
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": f"modelyard model server ({model})", "version": version},
        "paths": paths,
        "components": {"schemas": _schemas()},
    }
