"""The prediction log on Kafka: one message per answered request, keyed by request id.

A request only appends its record to a bounded deque (full: the record is dropped and
counted), as the Parquet log does. A sender thread encodes the records (schema in
:mod:`modelyard.streams.records`) and hands them to librdkafka, which batches them in its own
bounded queue. A record the brokers do not acknowledge within ``delivery_timeout_s``, or that
finds librdkafka's queue full, is *spilled*: written to the Parquet log instead, and counted.
So with the brokers down the server keeps answering at the same speed, and every record is
either on the topic, in a spill file, or counted as dropped; a dataset build reads both.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge

from modelyard.observe import names
from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.dataplane.predlog import BufferedSink, PredictionLog, PredictionRecord
from modelyard.serving.options import PredictionLogOptions
from modelyard.streams import KafkaEndpoint, encode_prediction
from modelyard.streams.client import make_producer

log = logging.getLogger(__name__)

SEND_INTERVAL_S = 0.25
"""Longest the sender thread waits before handing queued records to librdkafka and serving its
callbacks (the Parquet log's ``flush_interval`` when shorter). Each wake-up costs the event
loop the GIL for the encoding; fewer, larger hand-overs cost requests less (bench/kafka)."""
LINGER_MS = 100
"""librdkafka gathers records this long into one request to the brokers."""
_YIELD_EVERY = 64
_YIELD_SECONDS = 0.0001

ProducerFactory = Callable[[KafkaEndpoint, dict[str, Any]], Any]


class KafkaPredictionLog(BufferedSink):
    """A :class:`~modelyard.serving.dataplane.predlog.PredictionSink` writing to a Kafka topic."""

    def __init__(
        self,
        model: str,
        options: PredictionLogOptions,
        metrics: ServingMetrics,
        producer_factory: ProducerFactory = make_producer,
    ) -> None:
        if options.kafka is None or options.topic is None or options.directory is None:
            raise ValueError("KafkaPredictionLog needs options.kafka, .topic and .directory")
        self.model = model
        self.topic = options.topic
        self.options = options
        self._metrics = metrics
        # Spilled records are already sampled: the spill log keeps every one it is handed.
        self.spill = PredictionLog(model, dataclasses.replace(options, sample_rate=1.0), metrics)
        self._producer = producer_factory(
            options.kafka,
            {
                "linger.ms": LINGER_MS,
                "queue.buffering.max.messages": options.buffer,
                "message.timeout.ms": int(options.delivery_timeout_s * 1000),
                "acks": "all",
                # Back to the brokers within a second once they return (librdkafka's default
                # backoff grows to 10 s, and every record meanwhile would be spilled).
                "reconnect.backoff.max.ms": 1000,
                "enable.idempotence": False,
            },
        )
        self._queue: deque[PredictionRecord] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"kafka-log-{model}", daemon=True)
        self._random = random.Random()
        reg = metrics.registry
        self._delivered = Counter(
            names.PREDICTION_LOG_DELIVERED, "Acknowledged by Kafka.", ("model",), registry=reg
        ).labels(model)
        self._spilled = Counter(
            names.PREDICTION_LOG_SPILLED, "Spilled to Parquet.", ("model",), registry=reg
        ).labels(model)
        self._up = Gauge(
            names.PREDICTION_LOG_BROKER_UP, "Brokers taking records.", ("model",), registry=reg,
            multiprocess_mode="min",
        ).labels(model)  # fmt: skip
        self._up.set(1)
        self.delivered = 0
        self.spilled = 0
        self.dropped = 0

    def start(self) -> None:
        self.spill.start()
        self._thread.start()

    def close(self) -> None:
        """Send what is queued, wait up to the delivery timeout, spill what is left."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._send()
        self._producer.flush(self.options.delivery_timeout_s)
        # Whatever is still queued is purged; its callbacks spill it.
        self._producer.purge()
        self._producer.flush(0)
        self.spill.close()

    def _run(self) -> None:
        while not self._stop.wait(min(SEND_INTERVAL_S, self.options.flush_interval)):
            try:
                self._send()
            except Exception:  # the request path must never see the sink fail
                log.exception("kafka prediction log: sending failed")

    def _send(self) -> None:
        pending = self._queue
        for i in range(len(pending)):
            if i % _YIELD_EVERY == _YIELD_EVERY - 1:
                # Encoding holds the GIL; a short sleep hands it to the event loop regularly.
                time.sleep(_YIELD_SECONDS)
            rec = pending.popleft()
            value = encode_prediction(
                request_id=rec.request_id,
                model=self.model,
                version=rec.version,
                role=rec.role,
                timestamp=rec.timestamp,
                latency_ms=rec.latency_ms,
                inputs=rec.inputs,
                outputs=rec.outputs,
            )
            try:
                self._producer.produce(
                    self.topic,
                    value=value,
                    key=rec.request_id.encode(),
                    on_delivery=self._callback(rec),
                )
            except BufferError:  # librdkafka's queue is full: the brokers are behind or down
                self._spill(rec)
        self._producer.poll(0)

    def _callback(self, rec: PredictionRecord) -> Callable[[Any, Any], None]:
        def delivered(error: Any, message: Any) -> None:
            if error is None:
                self.delivered += 1
                self._delivered.inc()
                self._up.set(1)
            else:
                self._spill(rec)

        return delivered

    def _spill(self, rec: PredictionRecord) -> None:
        self.spilled += 1
        self._spilled.inc()
        self._up.set(0)
        self.spill.record(rec)
