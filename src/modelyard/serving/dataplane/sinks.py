"""Which prediction sink a server writes to: the Parquet log, or Kafka spilling to it.

The one place that reads ``prediction_log.sink``, so that the app only starts and closes
whatever this returns.
"""

from __future__ import annotations

from typing import Protocol

from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.dataplane.predlog import PredictionLog, PredictionRecord
from modelyard.serving.options import PredictionLogOptions


class OutcomeForwarder(Protocol):
    """Where the feedback endpoint sends each posted outcome, besides the join."""

    def send(self, request_id: str, outcomes: tuple[float, ...]) -> None: ...

    def close(self) -> None: ...


class StartedSink(Protocol):
    """A prediction sink with a writer thread to start."""

    def start(self) -> None: ...

    def record(self, rec: PredictionRecord) -> None: ...

    def close(self) -> None: ...


def prediction_sink(
    model: str, options: PredictionLogOptions, metrics: ServingMetrics
) -> StartedSink | None:
    """The sink ``options`` ask for, or None when the log is off."""
    if options.directory is None:
        return None
    if options.sink == "kafka":
        from modelyard.serving.dataplane.kafka_sink import KafkaPredictionLog

        return KafkaPredictionLog(model, options, metrics)
    return PredictionLog(model, options, metrics)


def outcome_forwarder(
    model: str, options: PredictionLogOptions, metrics: ServingMetrics
) -> OutcomeForwarder | None:
    """The Kafka forwarder of posted outcomes, when ``outcomes_topic`` is set."""
    if options.outcomes_topic is None or options.kafka is None:
        return None
    from modelyard.serving.dataplane.kafka_outcomes import KafkaOutcomeForwarder

    return KafkaOutcomeForwarder(model, options, metrics)
