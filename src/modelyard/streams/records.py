"""What a prediction record looks like on a topic: one JSON message per answered request.

The message is keyed by the request id (so one request's records land in one partition) and
carries ``schema_version``; :data:`PREDICTION_SCHEMA` is its JSON Schema, published in
docs/evaluation.md. Inputs and outputs are JSON arrays, row by row, exactly as the Parquet
log stores them as text, so that a dataset built from the topic equals one built from files.
"""

from __future__ import annotations

from typing import Any

import orjson

SCHEMA_VERSION = 1
"""Bumped on any change a reader must know of; readers refuse versions they do not know."""
SCHEME = "kafka://"

PREDICTION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "modelyard prediction record",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "schema_version", "request_id", "model", "version", "role", "timestamp_us",
        "latency_ms", "inputs", "outputs",
    ],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "request_id": {"type": "string", "description": "The id the server echoed."},
        "model": {"type": "string"},
        "version": {"type": "string", "description": "The version that answered."},
        "role": {"enum": ["primary", "canary", "shadow"]},
        "timestamp_us": {"type": "integer", "description": "Answer time, µs since the epoch."},
        "latency_ms": {"type": "number"},
        "inputs": {"type": "array", "description": "Input rows as sent (features)."},
        "outputs": {"type": "array", "description": "Output per row as answered."},
    },
}  # fmt: skip
"""JSON Schema of one prediction message."""


def encode_prediction(
    *,
    request_id: str,
    model: str,
    version: str,
    role: str,
    timestamp: float,
    latency_ms: float,
    inputs: Any,
    outputs: Any,
) -> bytes:
    """One prediction message; ``inputs``/``outputs`` are arrays (numpy or lists)."""
    return orjson.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "request_id": request_id,
            "model": model,
            "version": version,
            "role": role,
            "timestamp_us": int(timestamp * 1e6),
            "latency_ms": latency_ms,
            "inputs": inputs,
            "outputs": outputs,
        },
        option=orjson.OPT_SERIALIZE_NUMPY,
    )


def topic_uri(text: str) -> str | None:
    """The topic of a ``kafka://TOPIC`` argument, or None for anything else (a file)."""
    if not text.startswith(SCHEME):
        return None
    return text[len(SCHEME) :].strip("/")
