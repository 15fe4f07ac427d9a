"""Which prediction sink a server writes to: the Parquet log, or Kafka spilling to it.

The one place that reads ``prediction_log.sink``, so that the app only starts and closes
whatever this returns.
"""

from __future__ import annotations

from typing import Protocol

from modelyard.serving.metrics import ServingMetrics
from modelyard.serving.predlog import PredictionLog, PredictionRecord
from modelyard.serving.source import PredictionLogOptions


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
        from modelyard.serving.kafka_sink import KafkaPredictionLog

        return KafkaPredictionLog(model, options, metrics)
    return PredictionLog(model, options, metrics)
