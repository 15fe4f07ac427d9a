"""The server's Prometheus metrics, in a registry owned by one app (names from ``observe``).

Each app gets its own ``CollectorRegistry`` so that tests and several apps in one process do not
collide. Under ``uvicorn --workers N`` the values live in ``PROMETHEUS_MULTIPROC_DIR`` and
``/metrics`` aggregates every worker's files.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from modelyard.observe import names

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.0, 2.0, 5.0,
)  # fmt: skip
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


def multiprocess_dir() -> str | None:
    """The multiprocess directory when metrics are shared by several worker processes."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class ServingMetrics:
    """Every metric the server exports, created once per app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        mvr = ("model", "version", "role")
        self.requests = Counter(names.REQUESTS, "Requests answered.", [*mvr, "code"], registry=reg)
        self.grpc_requests = Counter(
            names.GRPC_REQUESTS, "Requests answered over gRPC.", ["model", "grpc_code"],
            registry=reg,
        )  # fmt: skip
        self.request_latency = Histogram(
            names.REQUEST_LATENCY, "Request time.", mvr, buckets=_LATENCY_BUCKETS, registry=reg
        )
        self.inference_latency = Histogram(
            names.INFERENCE_LATENCY, "Model call time.", mvr, buckets=_LATENCY_BUCKETS, registry=reg
        )
        self.queue_latency = Histogram(
            names.QUEUE_LATENCY,
            "Wait for a batch or a slot.",
            ("model", "version"),
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        )
        self.batch_size = Histogram(
            names.BATCH_SIZE, "Rows per call.", ("model", "version"), buckets=_BATCH_BUCKETS,
            registry=reg,
        )  # fmt: skip
        self.in_flight = Gauge(
            names.IN_FLIGHT, "Requests in progress.", ["model"], registry=reg,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.rate_limited = Counter(names.RATE_LIMITED, "429s.", ["model"], registry=reg)
        self.shed = Counter(names.SHED, "503s.", ["model", "reason"], registry=reg)
        self.breaker_state = Gauge(
            names.BREAKER_STATE, "0 closed, 1 open, 2 half-open.", ["model"], registry=reg,
            multiprocess_mode="max",
        )  # fmt: skip
        self.breaker_transitions = Counter(
            names.BREAKER_TRANSITIONS, "Breaker transitions.", ["model", "from_state", "to_state"],
            registry=reg,
        )  # fmt: skip
        mv = ("model", "version")
        self.shadow_compared = Counter(names.SHADOW_COMPARED, "Compared.", mv, registry=reg)
        self.shadow_diverged = Counter(names.SHADOW_DIVERGED, "Diverged.", mv, registry=reg)
        self.shadow_errors = Counter(names.SHADOW_ERRORS, "Shadow raised.", mv, registry=reg)
        self.log_dropped = Counter(
            names.PREDICTION_LOG_DROPPED, "Dropped.", ["model"], registry=reg
        )
        self.log_written = Counter(
            names.PREDICTION_LOG_WRITTEN, "Written.", ["model"], registry=reg
        )
        self.model_ready = Gauge(
            names.MODEL_READY, "1 once warm.", mvr, registry=reg, multiprocess_mode="liveall"
        )

    def exposition(self) -> tuple[bytes, str]:
        """The text format of every metric, across worker processes when there are several."""
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(merged), CONTENT_TYPE_LATEST
