"""Predictions and outcomes read from Kafka topics, in the shapes the dataset join takes.

Each read starts where the dataset's last build stopped (:class:`~modelyard.streams.OffsetStore`)
and returns the offsets to store once the dataset is written. Prediction messages of other
models on the same topic are skipped; a message that is not a prediction record of a known
``schema_version`` is refused, naming its topic, partition and offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from modelyard.evaluation.dataset import DatasetError
from modelyard.streams import SCHEMA_VERSION, KafkaEndpoint, read_topic
from modelyard.streams.client import TopicMessage

PREDICTION_FIELDS = ("request_id", "model", "version", "role", "timestamp_us", "inputs", "outputs")


@dataclass(frozen=True)
class TopicRead:
    """What one topic gave: the decoded messages and where to start next time."""

    topic: str
    messages: list[dict[str, Any]]
    next_offsets: dict[int, int]


def _where(topic: str, msg: TopicMessage) -> str:
    return f"kafka://{topic} partition {msg.partition} offset {msg.offset}"


def _decode(topic: str, msg: TopicMessage) -> dict[str, Any]:
    try:
        body = orjson.loads(msg.value)
    except orjson.JSONDecodeError as exc:
        raise DatasetError(
            _where(topic, msg), None, f"is not JSON ({exc})", "a JSON object"
        ) from exc
    if not isinstance(body, dict):
        raise DatasetError(_where(topic, msg), None, "is not a JSON object", "a JSON object")
    return body


def read_messages(endpoint: KafkaEndpoint, topic: str, start: dict[int, int]) -> TopicRead:
    """Every message of ``topic`` after ``start``, decoded as JSON objects."""
    nexts = dict(start)
    decoded: list[dict[str, Any]] = []
    for msg in read_topic(endpoint, topic, start):
        decoded.append({**_decode(topic, msg), "_where": _where(topic, msg)})
        nexts[msg.partition] = msg.offset + 1
    return TopicRead(topic, decoded, nexts)


def predictions_from(read: TopicRead, model_id: str, since_us: int | None) -> dict[str, Any]:
    """request id -> prediction, as ``trainset`` reads them from the Parquet log."""
    found: dict[str, dict[str, Any]] = {}
    for body in read.messages:
        where = body["_where"]
        if body.get("schema_version") != SCHEMA_VERSION:
            raise DatasetError(
                where, "schema_version", f"is {body.get('schema_version')!r}",
                f"{SCHEMA_VERSION} (a prediction record this modelyard knows)",
            )  # fmt: skip
        missing = [name for name in PREDICTION_FIELDS if name not in body]
        if missing:
            raise DatasetError(where, missing[0], "is missing", "a prediction record")
        if body["model"] != model_id or body["role"] == "shadow":
            continue
        if since_us is not None and body["timestamp_us"] < since_us:
            continue
        # The Parquet log keeps inputs and outputs as JSON text: the same text here.
        found[body["request_id"]] = {
            "version": body["version"],
            "timestamp_us": body["timestamp_us"],
            "inputs": orjson.dumps(body["inputs"]).decode(),
            "outputs": orjson.dumps(body["outputs"]).decode(),
        }
    return found


def outcomes_table(read: TopicRead) -> Any:
    """A PyArrow table of the outcome messages (``request_id``, ``outcome``, ``timestamp``)."""
    import pyarrow as pa

    ids: list[str] = []
    outcomes: list[float | None] = []
    stamps: list[str] = []
    for body in read.messages:
        where = body["_where"]
        for column in ("request_id", "outcome", "timestamp"):
            if column not in body:
                raise DatasetError(
                    where, column, "is missing", "an object with request_id, outcome, timestamp"
                )
        value = body["outcome"]
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise DatasetError(where, "outcome", f"is {value!r}", "a number")
        ids.append(str(body["request_id"]))
        outcomes.append(float(value))
        stamps.append(str(body["timestamp"]))
    return pa.table(
        {
            "request_id": pa.array(ids, pa.string()),
            "outcome": pa.array(outcomes, pa.float64()),
            "timestamp": pa.array(stamps, pa.string()),
        }
    )
