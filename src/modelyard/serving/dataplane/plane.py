"""The path of one inference request, the same behind every protocol.

Admission (rate limit, breaker, a slot within ``max_in_flight``), routing to a version, the
model call, then off the request path: the shadow copy and the prediction-log record. The HTTP
handlers only decode the body before and encode the answer after.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelyard.serving.dataplane.breaker import STATE_VALUES, CircuitBreaker, Shedder
from modelyard.serving.dataplane.deployment import ModelDeployment
from modelyard.serving.dataplane.limiter import RateLimiter
from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.dataplane.predlog import PredictionRecord, PredictionSink
from modelyard.serving.dataplane.version import ModelVersion
from modelyard.serving.options import ServerOptions
from modelyard.serving.protocol.errors import InferenceError, NotReady

log = logging.getLogger(__name__)

Decode = Callable[[ModelVersion], Awaitable[tuple[np.ndarray, str | None]]]
"""Decodes a body for a version: its rows, and the id the body names (OIP ``id``) if any."""


class RequestIds:
    """Request ids for requests that bring none: a random prefix per process plus a counter.

    As unique as a ``uuid4`` in practice (32 hex digits), at a fraction of the cost.
    """

    def __init__(self) -> None:
        self._prefix = uuid.uuid4().hex[:16]
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


@dataclass(frozen=True)
class Answer:
    """The rows a version answered, which version it was, and the request's id."""

    version: ModelVersion
    result: np.ndarray
    request_id: str


class DataPlane:
    """Admission, routing, inference, shadowing and logging for one model."""

    def __init__(
        self,
        deployment: ModelDeployment,
        options: ServerOptions,
        metrics: ServingMetrics,
        prediction_log: PredictionSink | None,
    ) -> None:
        name = deployment.name
        self.deployment = deployment
        self.options = options
        self.metrics = metrics
        self.limiter = RateLimiter(name, options.rate_limit)
        self.breaker = CircuitBreaker(name, options.breaker, self._transition)
        self.shedder = Shedder(name, options.breaker)
        self.prediction_log = prediction_log
        self._background: set[asyncio.Task[None]] = set()
        self._queue_latency: dict[str, Any] = {}
        self.ids = RequestIds()
        metrics.breaker_state.labels(name).set(0)

    def _transition(self, before: str, after: str) -> None:
        name = self.deployment.name
        self.metrics.breaker_transitions.labels(name, before, after).inc()
        self.metrics.breaker_state.labels(name).set(STATE_VALUES[after])
        log.warning("circuit breaker of %s: %s -> %s", name, before, after)

    async def infer(
        self,
        version: str | None,
        client_key: str | None,
        decode: Decode,
        request_id: str | None,
    ) -> Answer:
        """Admit, route, decode (with the routed version's signature) and predict.

        The request's id is ``request_id`` (the caller's header), else the id the body names
        (so that a caller who follows the OIP text finds its rows in the prediction log), else
        a new one.
        """
        self.limiter.check(client_key)
        probe = self.breaker.admit()
        recorded = False
        try:
            target = self.deployment.get(version) if version else self.deployment.route()
            if not target.ready:
                raise NotReady(
                    f"version {target.name} of {self.deployment.name!r} is warming up",
                    retry_after=1.0,
                )
            rows, body_id = await decode(target)
            queued = time.perf_counter()
            await self.shedder.acquire()
            histogram = self._queue_latency.get(target.name)
            if histogram is None:
                histogram = self.metrics.queue_latency.labels(self.deployment.name, target.name)
                self._queue_latency[target.name] = histogram
            histogram.observe(time.perf_counter() - queued)
            started = time.time()
            try:
                result = await target.predict(rows)
            except InferenceError:
                self.breaker.record(False, probe)
                recorded = True
                raise
            finally:
                self.shedder.release()
            self.breaker.record(True, probe)
            recorded = True
        finally:
            if probe and not recorded:
                self.breaker.cancel_probe()
        rid = request_id or body_id or self.ids.next()
        self._after(target, rows, result, rid, started)
        return Answer(target, result, rid)

    def _after(
        self,
        target: ModelVersion,
        rows: np.ndarray,
        result: np.ndarray,
        request_id: str,
        started: float,
    ) -> None:
        shadow = self.deployment.by_role("shadow")
        if (
            shadow is not None
            and shadow.ready
            and len(self._background) < self.options.breaker.max_in_flight
        ):
            task = asyncio.get_running_loop().create_task(self._mirror(shadow, rows, result))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        if self.prediction_log is not None:
            self.prediction_log.record(
                PredictionRecord(
                    request_id=request_id,
                    version=target.name,
                    role=target.role,
                    timestamp=started,
                    latency_ms=(time.time() - started) * 1000.0,
                    inputs=rows,
                    outputs=result,
                )
            )

    async def _mirror(self, shadow: ModelVersion, rows: np.ndarray, expected: np.ndarray) -> None:
        """Run the shadow on a copy of the request; its answer is only compared, never sent."""
        model, version = self.deployment.name, shadow.name
        try:
            got = await shadow.predict(rows)
        except Exception:
            shadow.stats.shadow_errors += 1
            self.metrics.shadow_errors.labels(model, version).inc()
            self.metrics.requests.labels(model, version, "shadow", "500").inc()
            return
        self.metrics.requests.labels(model, version, "shadow", "200").inc()
        shadow.stats.shadow_compared += 1
        self.metrics.shadow_compared.labels(model, version).inc()
        if diverged(expected, got, self.options.shadow_tolerance):
            shadow.stats.shadow_diverged += 1
            self.metrics.shadow_diverged.labels(model, version).inc()

    async def close(self) -> None:
        """Let background shadow calls finish, then flush the prediction log."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=self.options.drain_timeout)
        if self.prediction_log is not None:
            await asyncio.to_thread(self.prediction_log.close)


def diverged(expected: np.ndarray, got: np.ndarray, tolerance: float) -> bool:
    """True when two answers differ in shape, or in any value by more than ``tolerance``."""
    if expected.shape != got.shape:
        return True
    if expected.dtype.kind in "biuf" and got.dtype.kind in "biuf":
        return not np.allclose(expected, got, rtol=0.0, atol=tolerance, equal_nan=True)
    return not np.array_equal(expected, got)
