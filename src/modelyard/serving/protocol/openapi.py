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


def _write(
    method: str, summary: str, body: str | None, *params: str, admin: bool = False
) -> dict[str, Any]:
    """A route that changes something: the errors it may answer, and its body if any."""
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": _params(*params),
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {}}},
            **dict.fromkeys(("400", "401", "403", "404", "409", "503"), _ERROR),
        },
    }
    if body is not None:
        operation["requestBody"] = {"required": True, **_json(body)}
    if admin:
        operation["security"] = [{"admin": []}]
    return {method: operation}


def _admin_paths() -> dict[str, Any]:
    """The admin API (``Authorization: Bearer <token>``; see ``admin_models.py``)."""
    base = "/admin/models/{name}"
    read: dict[str, Any] = {"security": [{"admin": []}]}
    describe = _get("Admin: the versions served", _json("admin_view"), "name", **{"401": _ERROR,
                    "403": _ERROR, "404": _ERROR})  # fmt: skip
    stats = _get("Admin: every version's counters", {"description": "OK"}, "name",
                 **{"401": _ERROR, "403": _ERROR, "404": _ERROR})  # fmt: skip
    describe["get"].update(read)
    stats["get"].update(read)
    return {
        base: describe,
        f"{base}/stats": stats,
        f"{base}/versions": _write(
            "post", "Admin: load a version", "add_version", "name", admin=True
        ),
        f"{base}/versions/{{version}}": _write(
            "delete", "Admin: unload a version", None, "name", "version", admin=True
        ),
        f"{base}/traffic": _write(
            "put", "Admin: the canary's share", "set_traffic", "name", admin=True
        ),
        f"{base}/promote": _write(
            "post", "Admin: make a version the primary", "promote", "name", admin=True
        ),
    }


def _admin_schemas() -> dict[str, Any]:
    share = {"type": "number", "minimum": 0, "maximum": 1}
    outcome = {
        "type": "object",
        "required": ["request_id", "outcome"],
        "properties": {
            "request_id": {"type": "string"},
            "outcome": {
                "oneOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}}]
            },
        },
    }
    return {
        "feedback_request": {
            "type": "object",
            "required": ["outcomes"],
            "properties": {"outcomes": {"type": "array", "items": outcome}},
        },
        "add_version": {
            "type": "object",
            "required": ["version"],
            "additionalProperties": False,
            "properties": {
                "version": {"type": "string", "minLength": 1},
                "role": {"type": "string", "enum": ["canary", "shadow"]},
                "canary_share": share,
                "method": {
                    "type": "string",
                    "enum": ["predict", "predict_proba"],
                    "nullable": True,
                },
            },
        },
        "set_traffic": {
            "type": "object",
            "required": ["canary_share"],
            "additionalProperties": False,
            "properties": {"canary_share": share},
        },
        "promote": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"version": {"type": "string", "nullable": True}},
        },
        "admin_view": {
            "type": "object",
            "required": ["model", "versions"],
            "properties": {"model": {"type": "string"}, "versions": {"type": "array"}},
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
        "/v2/models/{name}/feedback": _write(
            "post", "Observed outcomes of answered requests", "feedback_request", "name"
        ),
        **_admin_paths(),
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
        "components": {
            "schemas": {**_schemas(), **_admin_schemas()},
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
        },
    }
