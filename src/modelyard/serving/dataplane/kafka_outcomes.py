"""Outcomes posted to the feedback endpoint, forwarded to a Kafka topic when configured
(``prediction_log.outcomes_topic``), as the messages ``dataset build --outcomes kafka://``
reads: ``{"request_id", "outcome", "timestamp"}``.

``produce`` only enqueues into librdkafka's bounded queue, so the feedback request never
waits for the brokers; an outcome the queue or the brokers refuse is counted, not retried.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import orjson
from prometheus_client import Counter

from modelyard.observe import names
from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.options import PredictionLogOptions
from modelyard.streams import KafkaEndpoint
from modelyard.streams.client import make_producer


class KafkaOutcomeForwarder:
    """Sends each joined-or-not outcome of one model to ``options.outcomes_topic``."""

    def __init__(
        self,
        model: str,
        options: PredictionLogOptions,
        metrics: ServingMetrics,
        producer_factory: Callable[[KafkaEndpoint, dict[str, Any]], Any] = make_producer,
        clock: Callable[[], float] = lambda: dt.datetime.now(dt.UTC).timestamp(),
    ) -> None:
        if options.kafka is None or options.outcomes_topic is None:
            raise ValueError("KafkaOutcomeForwarder needs options.kafka and .outcomes_topic")
        self.topic = options.outcomes_topic
        self.timeout_s = options.delivery_timeout_s
        self._clock = clock
        self._producer = producer_factory(
            options.kafka,
            {"linger.ms": 20, "message.timeout.ms": int(options.delivery_timeout_s * 1000)},
        )
        counter = Counter(
            names.FEEDBACK_FORWARDED, "Outcomes forwarded to Kafka.", ("model", "result"),
            registry=metrics.registry,
        )  # fmt: skip
        self._sent = counter.labels(model, "delivered")
        self._failed = counter.labels(model, "failed")
        self._skipped = counter.labels(model, "skipped")
        # Delivery reports arrive only through poll(): a thread serves them as they come.
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name=f"outcomes-{model}", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    def _delivered(self, error: Any, message: Any) -> None:
        (self._sent if error is None else self._failed).inc()

    def send(self, request_id: str, outcomes: tuple[float, ...]) -> None:
        """Enqueue one request's outcome (one value per request, as the outcomes file has)."""
        if len(outcomes) != 1:
            self._skipped.inc()  # per-row outcomes have no place in the one-label join
            return
        stamp = dt.datetime.fromtimestamp(self._clock(), dt.UTC).isoformat(timespec="milliseconds")
        value = orjson.dumps({"request_id": request_id, "outcome": outcomes[0], "timestamp": stamp})
        try:
            self._producer.produce(
                self.topic, value=value, key=request_id.encode(), on_delivery=self._delivered
            )
        except BufferError:
            self._failed.inc()

    def close(self) -> None:
        self._stop.set()
        self._poller.join(timeout=5)
        self._producer.flush(self.timeout_s)
        self._producer.purge()
        self._producer.flush(0)
