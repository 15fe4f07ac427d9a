"""Kafka topics as a place for the data loop: the one adapter of the Kafka client, the schema
of the prediction records, and the offsets a dataset build keeps for each topic it reads."""

from __future__ import annotations

from modelyard.streams.client import KafkaEndpoint, KafkaUnavailable, TopicMessage, read_topic
from modelyard.streams.offsets import OffsetStore
from modelyard.streams.records import (
    PREDICTION_SCHEMA,
    SCHEMA_VERSION,
    encode_prediction,
    topic_uri,
)

__all__ = [
    "PREDICTION_SCHEMA",
    "SCHEMA_VERSION",
    "KafkaEndpoint",
    "KafkaUnavailable",
    "OffsetStore",
    "TopicMessage",
    "encode_prediction",
    "read_topic",
    "topic_uri",
]
