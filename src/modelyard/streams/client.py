"""The one module that imports the Kafka client (``confluent-kafka``, librdkafka).

``KafkaEndpoint`` is where the brokers are and how to log in, as plain values that travel in a
server's launch spec; credentials stay in files and are read only when a client is made, so
they never reach argv, the environment or a log line. ``read_topic`` reads each partition
from given offsets to its end by *assigning* partitions, not through a consumer group: the
test broker (Tansu) never delivers to a group, and a build that owns its offsets can be
repeated and resumed exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.errors import ConfigError, NotFound, Unavailable

if TYPE_CHECKING:
    from modelyard.config.schema import KafkaSettings

log = logging.getLogger("modelyard.kafka")
"""librdkafka's own log lines (connection refused, ...), into the app's logging, not stderr."""
INSTALL_HINT = "install the Kafka client: pip install 'modelyard[kafka]'"


class KafkaUnavailable(Unavailable):
    """The brokers did not answer in time (or the client is not installed)."""


class TopicNotFound(NotFound):
    """The brokers answered but do not have the topic."""


@dataclass(frozen=True)
class KafkaEndpoint:
    """Brokers and login of one Kafka cluster (``modelyard.yaml`` ``kafka``)."""

    bootstrap_servers: str
    security_protocol: str = "plaintext"
    sasl_mechanism: str = "PLAIN"
    username_file: str | None = None
    password_file: str | None = None
    ca_file: str | None = None

    @classmethod
    def from_settings(cls, settings: KafkaSettings) -> KafkaEndpoint:
        return cls(
            bootstrap_servers=settings.bootstrap_servers,
            security_protocol=settings.security_protocol,
            sasl_mechanism=settings.sasl_mechanism,
            username_file=settings.username_file,
            password_file=settings.password_file,
            ca_file=settings.ca_file,
        )

    def client_config(self) -> dict[str, Any]:
        """librdkafka settings, with the credentials read from their files now."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.security_protocol.startswith("sasl"):
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = _secret(self.username_file, "username_file")
            config["sasl.password"] = _secret(self.password_file, "password_file")
        if self.ca_file is not None:
            config["ssl.ca.location"] = self.ca_file
        return config


def _secret(path: str | None, field: str) -> str:
    if path is None:
        raise ConfigError(f"modelyard.yaml: kafka.{field} is not set; name the file that holds it")
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"modelyard.yaml: kafka.{field} {path!r} cannot be read ({exc.strerror}); "
            "check the path and its permissions"
        ) from exc


def kafka_module() -> Any:
    """``confluent_kafka``, imported on first use (it is an optional extra)."""
    try:
        import confluent_kafka
        import confluent_kafka.admin
    except ImportError as exc:
        raise KafkaUnavailable(f"the Kafka client is missing; {INSTALL_HINT}") from exc
    return confluent_kafka


def make_producer(endpoint: KafkaEndpoint, settings: dict[str, Any]) -> Any:
    """A ``confluent_kafka.Producer`` for ``endpoint`` with extra librdkafka ``settings``."""
    return kafka_module().Producer({**endpoint.client_config(), "logger": log, **settings})


@dataclass(frozen=True)
class TopicMessage:
    """One message read from a topic."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes


def _partitions(consumer: Any, topic: str, timeout_s: float) -> list[int]:
    kafka = kafka_module()
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s)
    except kafka.KafkaException as exc:
        raise KafkaUnavailable(f"kafka: no answer about topic {topic!r}: {exc}") from exc
    found = metadata.topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        raise TopicNotFound(
            f"kafka: topic {topic!r} does not exist on the brokers "
            f"({found.error if found is not None else 'unknown topic'}); check the name"
        )
    return sorted(found.partitions)


def read_topic(
    endpoint: KafkaEndpoint,
    topic: str,
    start: dict[int, int],
    timeout_s: float = 60.0,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[TopicMessage]:
    """Every message of ``topic`` from ``start`` (partition -> next offset; 0 if absent) up to
    each partition's end as of the read; fails with :class:`KafkaUnavailable` after
    ``timeout_s`` without reaching every end."""
    kafka = kafka_module()
    consumer = kafka.Consumer(
        {
            **endpoint.client_config(),
            # Required by the client even though no group is joined (partitions are assigned).
            "group.id": "modelyard-dataset-build",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 100,
            "logger": log,
        }
    )
    try:
        partitions = _partitions(consumer, topic, timeout_s)
        consumer.assign([kafka.TopicPartition(topic, p, start.get(p, 0)) for p in partitions])
        open_ = set(partitions)
        deadline = clock() + timeout_s
        while open_:
            if clock() > deadline:
                raise KafkaUnavailable(
                    f"kafka: topic {topic!r} partitions {sorted(open_)} not read to their end "
                    f"in {timeout_s:g} s; are the brokers ({endpoint.bootstrap_servers}) up?"
                )
            for message in consumer.consume(500, 0.5):
                error = message.error()
                if error is not None:
                    if error.code() == kafka.KafkaError._PARTITION_EOF:
                        open_.discard(message.partition())
                        continue
                    raise KafkaUnavailable(f"kafka: reading {topic!r}: {error}")
                yield TopicMessage(
                    message.partition(), message.offset(), message.key(), message.value()
                )
    finally:
        consumer.close()
