"""Adaptive batching: concurrent requests to one version gathered into one model call.

One worker task per version takes the first waiting request, then gathers more until the batch
holds ``max_batch_size`` rows or ``max_wait_ms`` has passed, runs the batch in the inference
thread pool and scatters the rows back. It only waits for company when the previous batch had
company: a lone client pays no batching delay, while under load batches fill up on their own
because requests pile up while the model runs. And it waits only while company keeps coming:
once no request has joined for a quarter of ``max_wait_ms``, the batch goes (when every client
is already in the batch, waiting longer only adds latency). A failed batch is retried request
by request so that one poisoned request does not fail its neighbours. With ``inline`` set (a
model measured faster than a thread hop), batches run on the event loop, not in the executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

Observe = Callable[[int, float, list[float]], None]
"""Called after each model call with (rows, inference seconds, queue wait of each request)."""


@dataclass
class _Item:
    rows: np.ndarray
    future: asyncio.Future[np.ndarray]
    enqueued: float


class Batcher:
    """Gathers requests for ``run`` (a blocking batch function) and runs them in ``executor``."""

    def __init__(
        self,
        run: Callable[[np.ndarray], np.ndarray],
        executor: Executor,
        max_batch_size: int,
        max_wait_ms: float,
        observe: Observe,
    ) -> None:
        self._run = run
        self._executor = executor
        self._max_rows = max_batch_size
        self._max_wait = max_wait_ms / 1000.0
        self._observe = observe
        self._gap = self._max_wait / 4
        self._queue: deque[_Item] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._carry: _Item | None = None
        self._worker: asyncio.Task[None] | None = None
        self._last_items = 1
        self.inline = False
        """Run batches on the event loop rather than in ``executor``."""

    async def submit(self, rows: np.ndarray) -> np.ndarray:
        """Predict ``rows`` as part of some batch; returns exactly this request's outputs."""
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._loop())
        item = _Item(rows, loop.create_future(), time.perf_counter())
        self._queue.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return await item.future

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def _loop(self) -> None:
        while True:
            batch = await self._gather()
            await self._execute(batch)

    async def _arrival(self, timeout: float | None) -> bool:
        """Wait until a request is queued (True) or ``timeout`` seconds pass (False)."""
        if self._queue:
            return True
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, _settle, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        return bool(self._queue)

    async def _gather(self) -> list[_Item]:
        if self._carry is None:
            while not self._queue:
                await self._arrival(None)
        first = self._carry or self._queue.popleft()
        self._carry = None
        batch, rows = [first], len(first.rows)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self._max_wait if self._last_items > 1 else 0.0)
        while rows < self._max_rows:
            if not self._queue:
                remaining = deadline - loop.time()
                if remaining <= 0 or not await self._arrival(min(remaining, self._gap)):
                    break
            item = self._queue.popleft()
            if rows + len(item.rows) > self._max_rows:
                self._carry = item
                break
            batch.append(item)
            rows += len(item.rows)
        self._last_items = len(batch)
        return batch

    async def _execute(self, batch: list[_Item]) -> None:
        live = [item for item in batch if not item.future.done()]
        if not live:
            return
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        waits = [started - item.enqueued for item in live]
        try:
            joined = live[0].rows if len(live) == 1 else np.concatenate([i.rows for i in live])
            if self.inline:
                result = self._run(joined)
            else:
                result = await loop.run_in_executor(self._executor, self._run, joined)
            if len(result) != len(joined):
                raise ValueError(f"the model answered {len(result)} rows for {len(joined)}")
        except Exception as exc:
            if len(live) == 1:
                if not live[0].future.done():
                    live[0].future.set_exception(exc)
                return
            for item in live:  # isolate the request that broke the batch
                await self._execute([item])
            return
        self._observe(len(joined), time.perf_counter() - started, waits)
        start = 0
        for item in live:
            end = start + len(item.rows)
            if not item.future.done():
                item.future.set_result(result[start:end])
            start = end


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
