"""The versions of one model in one process and the traffic between them.

Roles: one ``primary`` answers by default; a ``canary`` answers a ``weight`` share of requests;
a ``shadow`` gets a copy of each request in the background and is never returned. Changing a
weight or promoting is a field update, so a local rollout step or rollback is instant. New
versions are loaded and warmed before they join; removed ones are drained, then unloaded.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from modelyard.errors import Conflict
from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.dataplane.version import ModelVersion
from modelyard.serving.options import ModelSource, ServerOptions
from modelyard.serving.protocol.errors import BadRequest, ModelNotFound

Loader = Callable[[str, str], ModelSource]
ROLES = ("primary", "canary", "shadow")


class ModelDeployment:
    """All versions of the model ``name`` served here."""

    def __init__(
        self, name: str, options: ServerOptions, executor: Executor, metrics: ServingMetrics
    ) -> None:
        self.name = name
        self.options = options
        self.versions: dict[str, ModelVersion] = {}
        self._executor = executor
        self._metrics = metrics
        self._lock = asyncio.Lock()
        self._random = random.Random()

    def _new(self, source: ModelSource, role: str) -> ModelVersion:
        return ModelVersion(
            source, role, self._executor, self._metrics, self.options.batching,
            self.options.stats_window, inline_below_ms=self.options.inline_below_ms,
        )  # fmt: skip

    load_error: str | None = None
    """Why the primary failed to load (None while it loads or once it serves): the server
    stays up to say so on its readiness route, so that whoever waits for it stops waiting."""

    async def start_primary(self, source: ModelSource) -> None:
        version = self._new(source, "primary")
        self.versions[source.version] = version
        await version.start()

    def by_role(self, role: str) -> ModelVersion | None:
        for version in self.versions.values():
            if version.role == role:
                return version
        return None

    @property
    def primary(self) -> ModelVersion:
        version = self.by_role("primary")
        if version is None:
            raise ModelNotFound(f"model {self.name!r} has no primary version")
        return version

    @property
    def ready(self) -> bool:
        version = self.by_role("primary")
        return version is not None and version.ready

    def get(self, version: str) -> ModelVersion:
        found = self.versions.get(version)
        if found is None or found.role == "shadow":
            raise ModelNotFound(f"model {self.name!r} has no version {version!r} served here")
        return found

    def route(self) -> ModelVersion:
        """The version that answers an unversioned request: canary by weight, else primary."""
        canary = self.by_role("canary")
        if canary is not None and canary.ready and self._random.random() < canary.weight:
            return canary
        return self.primary

    async def add(self, source: ModelSource, role: str, weight: float = 0.0) -> ModelVersion:
        """Load and warm a canary or shadow version, then give it traffic."""
        if role not in ("canary", "shadow"):
            raise BadRequest(f"role must be 'canary' or 'shadow', not {role!r}")
        _check_weight(weight)
        async with self._lock:
            if source.version in self.versions:
                raise Conflict(f"version {source.version!r} of {self.name!r} is already served")
            if self.by_role(role) is not None:
                raise Conflict(f"model {self.name!r} already has a {role}; remove it first")
            version = self._new(source, role)
            await version.start()
            version.weight = weight if role == "canary" else 0.0
            self.versions[source.version] = version
            return version

    def set_canary_weight(self, weight: float) -> None:
        _check_weight(weight)
        canary = self.by_role("canary")
        if canary is None:
            raise Conflict(f"model {self.name!r} has no canary to give traffic to")
        canary.weight = weight

    async def promote(self, version_name: str | None = None) -> ModelVersion:
        """Make the canary (or the named version) primary; the old primary is drained."""
        async with self._lock:
            if version_name is None:
                new = self.by_role("canary") or self.by_role("shadow")
                if new is None:
                    raise Conflict(f"model {self.name!r} has no canary or shadow to promote")
            else:
                new = self.versions.get(version_name)
                if new is None:
                    raise ModelNotFound(f"model {self.name!r} has no version {version_name!r}")
            old = self.primary
            if new is old:
                return new
            new.set_role("primary")
            new.weight = 0.0
            del self.versions[old.name]
        await self._retire(old)
        return new

    async def remove(self, version_name: str) -> None:
        """Stop routing to a canary or shadow, wait for its requests, unload it."""
        async with self._lock:
            version = self.versions.get(version_name)
            if version is None:
                raise ModelNotFound(f"model {self.name!r} has no version {version_name!r}")
            if version.role == "primary":
                raise Conflict(f"version {version_name!r} is the primary; promote another first")
            del self.versions[version_name]
        await self._retire(version)

    async def _retire(self, version: ModelVersion) -> None:
        await version.drain(self.options.drain_timeout)
        await version.close()

    async def close(self) -> None:
        for version in list(self.versions.values()):
            await self._retire(version)
        self.versions.clear()

    def describe(self) -> dict[str, Any]:
        """Versions with their roles, weights, readiness and stats (the admin view)."""
        return {
            "model": self.name,
            "versions": [
                {
                    "version": v.name,
                    "role": v.role,
                    "weight": v.weight,
                    "ready": v.ready,
                    "method": v.source.method,
                    "stats": v.stats.snapshot(),
                }
                for v in self.versions.values()
            ],
        }


def _check_weight(weight: float) -> None:
    if not isinstance(weight, int | float) or not 0.0 <= weight <= 1.0:
        raise BadRequest(f"weight must be a number between 0 and 1, not {weight!r}")
