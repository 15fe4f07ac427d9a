"""``ModelPool``: the models of one pool server, loaded on demand under a memory budget.

Every model of the pool has a ``PoolMember`` for the pool's whole life: its deployment, data
plane, HTTP handlers and admin API, so its rate limit, breaker and counters survive an
eviction. What comes and goes is the deployment's versions (the loaded artifact, its batcher).

A request ``acquire``s its model: a loaded one is marked in use at once; an unloaded one is
loaded (one load at a time, so that each load's RSS growth is its own) and the request waits
for it within ``load_timeout_s``, then gets 503 with ``Retry-After``. Before a load, the least
recently used models are evicted until the model's expected size fits (its own earlier
measurement, else the median of the others'); after it, its measured growth is recorded and,
if the pool is now over budget, more are evicted. A model in use, pinned, or holding a canary
or shadow is never evicted.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Any

from modelyard.serving.admin.api import AdminApi, Loader
from modelyard.serving.dataplane.deployment import ModelDeployment
from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.dataplane.plane import DataPlane
from modelyard.serving.dataplane.sinks import StartedSink, prediction_sink
from modelyard.serving.options import ModelSource, ServerOptions
from modelyard.serving.pool.ledger import Resident, choose_evictions, typical_bytes
from modelyard.serving.pool.measure import Releaser, RssReader
from modelyard.serving.protocol.errors import ModelNotFound, NotReady
from modelyard.serving.rest.handlers import InferenceApi

log = logging.getLogger(__name__)
SERVER_VERSION = "0.1.0"

Resolver = Callable[[str], ModelSource]
"""The source of a pool model's version to serve (the verified cache), by model name."""


@dataclass(frozen=True)
class PoolModel:
    """One model a pool may serve, and how."""

    name: str
    options: ServerOptions
    pinned: bool = False
    """Loaded at start and never evicted."""


class PoolMember:
    """One model of the pool: its data plane for the pool's life, its load state, its use."""

    def __init__(
        self, model: PoolModel, executor: Executor, metrics: ServingMetrics, loader: Loader | None
    ) -> None:
        self.model = model
        self.name = model.name
        options = model.options
        self.deployment = ModelDeployment(model.name, options, executor, metrics)
        self.sink: StartedSink | None = prediction_sink(model.name, options.prediction_log, metrics)
        self.sink_started = False
        self.plane = DataPlane(self.deployment, options, metrics, self.sink)
        self.api = InferenceApi(self.plane, metrics, SERVER_VERSION)
        self.admin = AdminApi(self.deployment, options.admin_token, loader)
        self.loaded = False
        self.loading: asyncio.Task[None] | None = None
        self.in_flight = 0
        self.memory_bytes = 0
        """The most its loads were measured to take (RSS growth)."""
        self.last_used = 0.0
        self.loads = 0
        self.evictions = 0
        self.load_seconds = 0.0
        """How long its last load took (resolve, load, warm-up)."""
        self.last_error: str | None = None

    @property
    def in_rollout(self) -> bool:
        """True while a canary or shadow is served beside the primary."""
        return any(v.role != "primary" for v in self.deployment.versions.values())

    def resident(self) -> Resident:
        return Resident(
            self.name,
            self.memory_bytes,
            self.last_used,
            evictable=not (self.model.pinned or self.in_flight or self.in_rollout),
        )


class ModelPool:
    """The members of one pool and the budget they share."""

    def __init__(
        self,
        name: str,
        models: Sequence[PoolModel],
        budget_bytes: int,
        load_timeout_s: float,
        resolve: Resolver,
        executor: Executor,
        metrics: ServingMetrics,
        *,
        rss: RssReader,
        release: Releaser,
        loader: Loader | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.metrics = metrics
        self.budget_bytes = budget_bytes
        self.load_timeout_s = load_timeout_s
        self.members = {m.name: PoolMember(m, executor, metrics, loader) for m in models}
        self._resolve = resolve
        self._rss = rss
        self._release = release
        self._clock = clock
        self._load_lock = asyncio.Lock()
        self.evictions = 0

    def member(self, name: str) -> PoolMember:
        found = self.members.get(name)
        if found is None:
            raise ModelNotFound(f"model {name!r} is not in pool {self.name!r}")
        return found

    @property
    def used_bytes(self) -> int:
        """The measured memory of the loaded models."""
        return sum(m.memory_bytes for m in self.members.values() if m.loaded)

    # ----------------------------------------------------------------- use of a model

    async def acquire(self, name: str) -> PoolMember:
        """The member ``name``, loaded and marked in use (never evicted until ``release``)."""
        member = self.member(name)
        if not member.loaded:
            deadline = asyncio.get_running_loop().time() + self.load_timeout_s
            while not member.loaded:  # an eviction may come between the load and this turn
                await self._wait_loaded(member, deadline)
        member.in_flight += 1
        member.last_used = self._clock()
        return member

    def release(self, member: PoolMember) -> None:
        member.in_flight -= 1
        member.last_used = self._clock()

    async def _wait_loaded(self, member: PoolMember, deadline: float) -> None:
        if member.loading is None:
            member.loading = asyncio.get_running_loop().create_task(self._load(member))
            member.loading.add_done_callback(_forget_error)
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            await asyncio.wait_for(asyncio.shield(member.loading), max(remaining, 0.0))
        except TimeoutError:
            raise NotReady(
                f"model {member.name!r} is loading in pool {self.name!r} and was not ready "
                f"within {self.load_timeout_s:g} s; retry shortly",
                retry_after=max(1.0, member.load_seconds),
            ) from None

    # ----------------------------------------------------------------- load and evict

    async def _load(self, member: PoolMember) -> None:
        try:
            async with self._load_lock:
                if member.loaded:
                    return
                started = time.perf_counter()
                source = await asyncio.to_thread(self._resolve, member.name)
                measured = [m.memory_bytes for m in self.members.values() if m.loads]
                await self._make_room(member.memory_bytes or typical_bytes(measured))
                try:
                    grown = await self._measured_load(member, source)
                except Exception as exc:
                    member.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("pool %s: %s failed to load: %s", self.name, member.name, exc)
                    await member.deployment.close()
                    raise
                member.memory_bytes = max(member.memory_bytes, grown)
                member.loaded, member.last_error = True, None
                member.loads += 1
                member.last_used = self._clock()
                member.load_seconds = time.perf_counter() - started
                if member.sink is not None and not member.sink_started:
                    member.sink.start()
                    member.sink_started = True
                log.info(
                    "pool %s loaded %s version %s (%.1f MiB measured, %.3f s)",
                    self.name, member.name, source.version,
                    grown / 2**20, member.load_seconds,
                )  # fmt: skip
                # the measurement may show the pool over budget; the model just loaded stays
                await self._make_room(0, keep=member)
        finally:
            member.loading = None

    async def _measured_load(self, member: PoolMember, source: ModelSource) -> int:
        """Load and warm ``member``'s primary; the RSS growth the load caused.

        A load that imported code (the first model of a framework, or of a new estimator
        family) grew the RSS by those modules too, which every later model shares and no
        eviction frees: that load is undone and done again, and the second one is measured.
        """
        modules = len(sys.modules)
        before = self._rss()
        await member.deployment.start_primary(source)
        if len(sys.modules) == modules:
            return max(self._rss() - before, 0)
        await member.deployment.close()
        self._release()
        before = self._rss()
        await member.deployment.start_primary(source)
        return max(self._rss() - before, 0)

    async def _make_room(self, need_bytes: int, keep: PoolMember | None = None) -> None:
        residents = [
            replace(m.resident(), evictable=False) if m is keep else m.resident()
            for m in self.members.values()
            if m.loaded
        ]
        names = choose_evictions(residents, need_bytes, self.budget_bytes)
        for name in names:
            await self.evict(self.members[name])
        if names:
            self._release()

    async def evict(self, member: PoolMember) -> None:
        """Unload ``member``'s versions; its data plane stays for its next load."""
        if not member.loaded:
            return
        member.loaded = False  # from here a request loads it again
        member.evictions += 1
        self.evictions += 1
        log.info(
            "pool %s evicts %s (%.1f MiB)", self.name, member.name, member.memory_bytes / 2**20
        )
        await member.deployment.close()

    async def load_pinned(self) -> None:
        """Load every pinned model (at start), one at a time."""
        for member in self.members.values():
            if member.model.pinned:
                try:
                    member.last_used = self._clock()
                    await self._wait_loaded(member, asyncio.get_running_loop().time() + 3600.0)
                except Exception:
                    log.exception("pool %s: pinned model %s failed to load", self.name, member.name)

    async def close(self) -> None:
        for member in self.members.values():
            if member.sink_started:
                await member.plane.close()
            await member.deployment.close()

    # ----------------------------------------------------------------- the admin view

    def describe(self) -> dict[str, Any]:
        """The pool's budget, measured use and every model's state (the admin stats view)."""
        models = []
        for m in self.members.values():
            primary = m.deployment.by_role("primary") if m.loaded else None
            models.append(
                {
                    "model": m.name,
                    "loaded": m.loaded,
                    "pinned": m.model.pinned,
                    "version": primary.name if primary is not None else None,
                    "memory_bytes": m.memory_bytes,
                    "last_used": m.last_used or None,
                    "in_flight": m.in_flight,
                    "loads": m.loads,
                    "evictions": m.evictions,
                    "load_seconds": round(m.load_seconds, 4),
                    "last_error": m.last_error,
                }
            )
        return {
            "pool": self.name,
            "memory_budget_bytes": self.budget_bytes,
            "memory_used_bytes": self.used_bytes,
            "rss_bytes": self._rss(),
            "loaded": sum(1 for m in self.members.values() if m.loaded),
            "evictions": self.evictions,
            "models": models,
        }


def _forget_error(task: asyncio.Task[None]) -> None:
    # a load whose waiters all timed out still fails quietly here: it was logged, and
    # member.last_error says why
    if not task.cancelled():
        task.exception()
