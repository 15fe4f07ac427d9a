"""What the server serves and how it is tuned: ``ModelSource`` and ``ServerOptions``.

Both are frozen dataclasses built once at start-up; ``ServerOptions.from_deploy`` turns the
user's ``deploy.yaml`` (a pydantic ``DeploySpec``) into the plain values the server reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from modelyard.serving.protocol.limits import RequestLimits
from modelyard.streams import KafkaEndpoint

if TYPE_CHECKING:
    from modelyard.config import DeploySpec

WarmupRow = list[float | int | str | bool]


class FastLoadStore(Protocol):
    """Where a runtime keeps a fast-loading copy of a model it loaded the slow, safe way
    (the verified cache's fast-load copy: ``modelyard.registry.cache``)."""

    def read(self, key: str) -> bytes | None: ...

    def write(self, key: str, data: bytes) -> None: ...


@dataclass(frozen=True)
class ModelSource:
    """One model version on local disk: a directory holding an ``MLmodel`` file and artifacts.

    The registry has already verified the artifacts' checksums before handing this over.
    """

    name: str
    version: str
    path: Path
    method: str = "predict"
    """Model method that answers requests: ``predict`` or ``predict_proba``."""
    warmup_inputs: list[WarmupRow] | None = None
    """Rows sent before the version reports ready; generated from the signature if unset."""
    warmup_requests: int = 3
    """Number of warm-up calls."""
    allow_pickle: bool = True
    """Whether formats that run code on load (pickle, cloudpickle) may be loaded."""
    fastload: FastLoadStore | None = None
    """The cache's fast-load copy of this version (used only where pickles are allowed)."""


@dataclass(frozen=True)
class BatchingOptions:
    """Adaptive batching: concurrent requests are gathered into one model call."""

    enabled: bool = True
    max_batch_size: int = 32
    max_wait_ms: float = 2.0


@dataclass(frozen=True)
class RateLimitOptions:
    """Token bucket; ``rps`` None disables it; ``per_client`` names the client-key header."""

    rps: float | None = None
    burst: int | None = None
    per_client: str | None = None


@dataclass(frozen=True)
class BreakerOptions:
    """Load shedding (max in flight, queue timeout) and the error-rate circuit breaker."""

    max_in_flight: int = 256
    queue_timeout: float = 1.0
    error_rate: float = 0.5
    min_requests: int = 20
    window: float = 10.0
    cooldown: float = 5.0


@dataclass(frozen=True)
class PredictionLogOptions:
    """Prediction log to Parquet; ``directory`` None disables it."""

    directory: Path | None = None
    sample_rate: float = 1.0
    buffer: int = 10000
    flush_interval: float = 1.0
    """Seconds between background flushes."""
    sink: str = "parquet"
    """``parquet``, or ``kafka``: records go to ``topic``, spilling to ``directory``."""
    topic: str | None = None
    """Kafka topic of the records (``sink`` kafka)."""
    outcomes_topic: str | None = None
    """Kafka topic the feedback endpoint forwards outcomes to."""
    delivery_timeout_s: float = 30.0
    """How long a record may wait for the brokers before it is spilled."""
    kafka: KafkaEndpoint | None = None
    """The brokers (``modelyard.yaml`` ``kafka``), for the sink and the outcomes topic."""


@dataclass(frozen=True)
class ServerOptions:
    """Everything the model server needs besides the model itself."""

    batching: BatchingOptions = field(default_factory=BatchingOptions)
    rate_limit: RateLimitOptions = field(default_factory=RateLimitOptions)
    breaker: BreakerOptions = field(default_factory=BreakerOptions)
    prediction_log: PredictionLogOptions = field(default_factory=PredictionLogOptions)
    request_limits: RequestLimits = field(default_factory=RequestLimits)
    """Largest request body and most rows per request (``deploy.yaml`` ``request_limits``)."""
    admin_token: str | None = None
    """Bearer token of the admin API; None disables the admin API."""
    shadow_tolerance: float = 1e-6
    """Absolute difference above which a shadow prediction counts as diverged."""
    stats_window: float = 60.0
    """Seconds of recent requests the stats endpoint summarises."""
    inference_threads: int = 4
    """Threads that run model calls off the event loop."""
    inline_below_ms: float = 1.0
    """A model whose full batch takes less than this at warm-up is called on the event loop,
    not in the thread pool (the hop costs more than the call); 0 always uses the pool."""
    freeze_gc: bool = True
    """Once the primary is warm, move every object then alive out of the garbage collector's
    reach (``gc.freeze``): full collections then scan only what requests allocate, instead of
    every module and model object (about 100 ms each with scikit-learn loaded)."""
    drain_timeout: float = 30.0
    """Longest a removed version (or a shutdown) waits for requests in flight."""

    @classmethod
    def from_deploy(
        cls,
        deploy: DeploySpec,
        admin_token: str | None = None,
        prediction_log_dir: Path | None = None,
        kafka: KafkaEndpoint | None = None,
    ) -> ServerOptions:
        """Build the options from a validated ``deploy.yaml``."""
        from modelyard.config.quantity import memory_bytes

        b, r, c, p, q = (
            deploy.batching,
            deploy.rate_limit,
            deploy.circuit_breaker,
            deploy.prediction_log,
            deploy.request_limits,
        )
        return cls(
            batching=BatchingOptions(b.enabled, b.max_batch_size, b.max_wait_ms),
            rate_limit=RateLimitOptions(r.rps, r.burst, r.per_client),
            breaker=BreakerOptions(
                max_in_flight=c.max_in_flight,
                queue_timeout=c.queue_timeout,
                error_rate=c.error_rate,
                min_requests=c.min_requests,
                window=c.window,
                cooldown=c.cooldown,
            ),
            prediction_log=PredictionLogOptions(
                directory=prediction_log_dir if p.enabled else None,
                sample_rate=p.sample_rate,
                buffer=p.buffer,
                sink=p.sink,
                topic=p.topic,
                outcomes_topic=p.outcomes_topic,
                delivery_timeout_s=p.delivery_timeout,
                kafka=kafka,
            ),
            request_limits=RequestLimits(memory_bytes(q.max_body), q.max_rows),
            admin_token=admin_token,
        )
