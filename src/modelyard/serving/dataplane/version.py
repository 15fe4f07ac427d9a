"""One served model version: its runtime, batcher, warm-up, readiness, stats and draining.

A version is loaded and warmed before it takes traffic: ``start()`` loads the artifact in a
worker thread, then sends the warm-up rows through the same path requests take, and only then
sets ``ready``. ``drain()`` waits for the requests it is answering before ``close()`` unloads.

Where the model runs is chosen by measured cost: after warm-up, a full batch is timed, and a
model that answers it in under ``inline_below_ms`` is called on the event loop itself (a thread
hop costs more than such a call); slower models run in the inference thread pool so that the
loop keeps answering while they compute.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import Executor
from typing import Any

import numpy as np

from modelyard.serving.dataplane.batcher import Batcher
from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.dataplane.stats import VersionStats
from modelyard.serving.options import BatchingOptions, ModelSource
from modelyard.serving.protocol.codec import check_rows, datatype_of
from modelyard.serving.protocol.errors import BadRequest, InferenceError, ModelLoadError
from modelyard.serving.protocol.signature import generated_rows, read_mlmodel
from modelyard.serving.runtimes.base import ModelRuntime
from modelyard.serving.runtimes.registry import runtime_for


class ModelVersion:
    """A loaded (or loading) version with a role: primary, canary or shadow."""

    def __init__(
        self,
        source: ModelSource,
        role: str,
        executor: Executor,
        metrics: ServingMetrics,
        batching: BatchingOptions,
        stats_window: float = 60.0,
        runtime: ModelRuntime | None = None,
        inline_below_ms: float = 0.0,
    ) -> None:
        self.source = source
        self.role = role
        self.weight = 0.0
        self.ready = False
        self.output_meta: tuple[str, list[int]] | None = None
        """Datatype and shape of the output, learnt from the warm-up answers."""
        self.stats = VersionStats(window=stats_window)
        self.runtime = (
            runtime
            if runtime is not None
            else runtime_for(
                source.path,
                source.method,
                allow_pickle=source.allow_pickle,
                fastload=source.fastload,
            )
        )
        self._executor = executor
        self._metrics = metrics
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._inline_below = inline_below_ms / 1000.0
        self.inline = False
        """True once warm-up measured the model fast enough to call on the event loop."""
        self._probe_rows = batching.max_batch_size if batching.enabled else 1
        self._children: dict[str, tuple[Any, Any, Any]] = {}
        self._batcher: Batcher | None = None
        if batching.enabled and batching.max_batch_size > 1:
            self._batcher = Batcher(
                self._call, executor, batching.max_batch_size, batching.max_wait_ms, self._observe
            )

    @property
    def name(self) -> str:
        return self.source.version

    @property
    def output_name(self) -> str:
        return self.source.method

    def set_role(self, role: str) -> None:
        """Move the version to another role, keeping the ready gauge's labels right."""
        model, version = self.source.name, self.source.version
        self._metrics.model_ready.labels(model, version, self.role).set(0)
        self.role = role
        self._metrics.model_ready.labels(model, version, role).set(1 if self.ready else 0)

    async def start(self) -> None:
        """Load the artifact and run the warm-up requests; then the version is ready."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.runtime.load, self.source.path)
        rows = self.warmup_rows()
        for _ in range(self.source.warmup_requests):
            result = await self.predict(rows, count=False)
            self.output_meta = (datatype_of(result.dtype), [-1, *result.shape[1:]])
        if self._inline_below > 0:
            cost = await loop.run_in_executor(self._executor, self._call_cost, rows)
            self.inline = cost < self._inline_below
            if self._batcher is not None:
                self._batcher.inline = self.inline
        self.ready = True
        self._metrics.model_ready.labels(self.source.name, self.name, self.role).set(1)

    def warmup_rows(self) -> np.ndarray:
        """Rows from the model config, else the saved input example, else the signature."""
        sig = self.runtime.signature
        if self.source.warmup_inputs:
            try:
                return check_rows(np.asarray(self.source.warmup_inputs), sig)
            except (BadRequest, ValueError) as exc:
                raise ModelLoadError(f"warm-up inputs do not fit the signature: {exc}") from exc
        try:
            example = read_mlmodel(self.source.path).example
        except ModelLoadError:
            example = None
        if example is not None:
            try:
                return check_rows(example, sig)
            except BadRequest:
                pass
        return generated_rows(sig)

    def _call(self, rows: np.ndarray) -> np.ndarray:
        result = self.runtime.predict(rows)
        if result.ndim == 0:
            raise InferenceError(f"version {self.name} answered a scalar for {len(rows)} rows")
        return result

    def _call_cost(self, rows: np.ndarray, repeat: int = 5) -> float:
        """Median seconds of one call on the largest batch this version will be sent."""
        probe = np.concatenate([rows] * (-(-self._probe_rows // len(rows))))[: self._probe_rows]
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            self._call(probe)
            times.append(time.perf_counter() - started)
        return sorted(times)[repeat // 2]

    def _observe(self, rows: int, seconds: float, waits: list[float]) -> None:
        children = self._children.get(self.role)
        if children is None:  # label lookups cost more than the observations: cache them
            model, version, m = self.source.name, self.name, self._metrics
            children = self._children[self.role] = (
                m.batch_size.labels(model, version),
                m.inference_latency.labels(model, version, self.role),
                m.queue_latency.labels(model, version),
            )
        batch_size, inference, queue = children
        batch_size.observe(rows)
        inference.observe(seconds)
        for wait in waits:
            queue.observe(wait)

    async def predict(self, rows: np.ndarray, count: bool = True) -> np.ndarray:
        """Predict ``rows``; counts the outcome in this version's stats when ``count``."""
        self._in_flight += 1
        self._idle.clear()
        started = time.perf_counter()
        ok = False
        try:
            # A request larger than a full batch skips the batcher and the loop: it runs in a
            # thread of its own, so that smaller requests keep being answered meanwhile.
            small = len(rows) <= self._probe_rows
            if self._batcher is not None and small:
                result = await self._batcher.submit(rows)
            elif self.inline and small:  # as fast as measured at warm-up
                result = self._call(rows)
                self._observe(len(rows), time.perf_counter() - started, [0.0])
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self._executor, self._call, rows)
                self._observe(len(rows), time.perf_counter() - started, [0.0])
            ok = True
            return result
        except InferenceError:
            raise
        except Exception as exc:
            raise InferenceError(f"version {self.name} raised: {exc!r}") from exc
        finally:
            if count:
                self.stats.record(time.perf_counter() - started, ok)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) until no request is in progress here."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)

    async def close(self) -> None:
        self.ready = False
        self._metrics.model_ready.labels(self.source.name, self.name, self.role).set(0)
        if self._batcher is not None:
            await self._batcher.close()
        self.runtime.unload()
