"""The rollout's actions carried out on a running model server, through its admin client.

Each action is made idempotent here by looking at what the server has first ("ensure"
semantics): loading a version that is loaded, unloading one that is gone, or setting the share
of a version that still sits in the shadow role (after a server restart, say) all end in the
state the action names. That is what lets a controller carry out a committed transition again,
or :func:`~modelyard.rollout.reconcile`'s actions, without harm.

The rollout machine counts a canary's traffic in percent (its plan's steps); the server's
wire contract takes a share from 0 to 1. The conversion happens here, once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from modelyard.config import Workspace
from modelyard.errors import IntegrityError, NotFound
from modelyard.rollout import (
    Action,
    Event,
    LoadFailed,
    LoadVersion,
    MetricsSnapshot,
    Promote,
    RecordEvent,
    SetCanaryWeight,
    SetShadow,
    ShadowStats,
    Unload,
    VersionLoaded,
    VersionStats,
)
from modelyard.serving.admin.client import AdminClient, AdminRefused
from modelyard.workflows.serve import ensure_cached


@dataclass(frozen=True)
class Served:
    """One version on the server: its role and canary share (0-1)."""

    role: str
    canary_share: float


class ServerActuator:
    """Carries out rollout actions on the server of ``model`` at ``url``."""

    def __init__(
        self,
        url: str,
        model: str,
        token: str,
        *,
        timeout: float = 120.0,
        prepare: Callable[[str], None] | None = None,
    ) -> None:
        self.client = AdminClient(url, model, token, timeout=timeout)
        self.url = url
        self.model = model
        self.prepare = prepare
        """Called with a version before the server is asked to load it: the server loads
        only from the verified cache, so this fetches the version there (Registry.fetch)."""

    def close(self) -> None:
        self.client.close()

    def served(self) -> dict[str, Served]:
        """The versions on the server now."""
        view = self.client.describe()
        return {v.version: Served(v.role, v.canary_share) for v in view.versions}

    def primary(self) -> str | None:
        return next((v for v, s in self.served().items() if s.role == "primary"), None)

    def snapshot(self) -> MetricsSnapshot:
        """The server's cumulative counters per version, stamped with the wall clock."""
        stats = self.client.stats()
        versions: dict[str, VersionStats] = {}
        shadow: dict[str, ShadowStats] = {}
        for name, v in stats.versions.items():
            if v.role == "shadow":
                shadow[name] = ShadowStats(v.shadow_compared, v.shadow_diverged, v.shadow_errors)
            else:
                p90 = v.latency_p90_ms
                versions[name] = VersionStats(
                    v.requests_total, v.errors_total, None if p90 is None else p90 / 1000
                )
        return MetricsSnapshot(at=time.time(), versions=versions, shadow=shadow)

    # ------------------------------------------------------------------ actions

    def carry_out(self, action: Action) -> Event | None:
        """Do ``action``; a :class:`LoadVersion` answers VersionLoaded or LoadFailed."""
        match action:
            case LoadVersion(version=version, role=role):
                try:
                    self._ensure(version, role, 0.0)
                except AdminRefused as exc:
                    return LoadFailed(version, str(exc))
                return VersionLoaded(version)
            case SetShadow(version=version):
                self.set_shadow(version)
            case SetCanaryWeight(version=version, weight=percent):
                self.set_canary_share(version, percent / 100.0)
            case Promote(version=version):
                self.promote(version)
            case Unload(version=version):
                self.unload(version)
            case RecordEvent():
                pass
        return None

    def _remove_role(self, served: dict[str, Served], role: str, keep: str | None) -> None:
        for name, info in served.items():
            if info.role == role and name != keep:
                self.client.remove(name)

    def _ensure(self, version: str, role: str, canary_share: float) -> None:
        """``version`` loaded in ``role`` (moved there if it sits in the other role)."""
        served = self.served()
        found = served.get(version)
        if found is not None and found.role in (role, "primary"):
            return
        if found is not None:
            self.client.remove(version)
        self._remove_role(served, role, keep=None)
        if self.prepare is not None:
            try:
                self.prepare(version)
            except (NotFound, IntegrityError) as exc:  # the version cannot be served
                raise AdminRefused(f"version {version} cannot be fetched: {exc}") from exc
        self.client.add_version(version, role, canary_share)

    def set_shadow(self, version: str | None) -> None:
        served = self.served()
        self._remove_role(served, "shadow", keep=version)
        if version is not None:
            self._ensure(version, "shadow", 0.0)

    def set_canary_share(self, version: str, canary_share: float) -> None:
        found = self.served().get(version)
        if found is not None and found.role == "canary":
            self.client.set_traffic(canary_share)
        elif (found is None or found.role == "shadow") and canary_share > 0:
            self._ensure(version, "canary", canary_share)

    def promote(self, version: str) -> None:
        found = self.served().get(version)
        if found is not None and found.role == "primary":
            return
        if found is None or found.role == "shadow":
            self._ensure(version, "canary", 0.0)
        self.client.promote(version)

    def unload(self, version: str) -> None:
        found = self.served().get(version)
        if found is not None and found.role != "primary":
            self.client.remove(version)


def cache_fetcher(workspace: Workspace, model_id: str) -> Callable[[str], None]:
    """What runs before the server is asked to load a version: fetch it into the verified
    cache (Registry.fetch, MLflow) unless the cache index records it already."""

    def fetch(version: str) -> None:
        ensure_cached(workspace, model_id, int(version))

    return fetch
