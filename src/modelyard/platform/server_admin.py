"""The rollout's actions carried out on a running model server, through its admin API.

Each action is made idempotent here by looking at what the server has first ("ensure"
semantics): loading a version that is loaded, unloading one that is gone, or setting the weight
of a version that still sits in the shadow role (after a server restart, say) all end in the
state the action names. That is what lets a controller carry out a committed transition again,
or :func:`~modelyard.rollout.reconcile`'s actions, without harm.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from modelyard.errors import Unavailable
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


class ServerUnreachable(Unavailable):
    """The model server did not answer its admin API (down, or restarting)."""


class AdminRefused(Unavailable):
    """The server's admin API refused a call (e.g. the version failed to load)."""


@dataclass(frozen=True)
class Served:
    """One version on the server: its role and canary weight (0..1)."""

    role: str
    weight: float


class ServerAdmin:
    """The admin API of the server of ``model`` at ``url``."""

    def __init__(self, url: str, model: str, token: str, *, timeout: float = 120.0) -> None:
        self.url = url
        self.model = model
        self._client = httpx.Client(
            base_url=url, timeout=timeout, headers={"authorization": f"Bearer {token}"}
        )

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        try:
            reply = self._client.request(method, f"/admin/models/{self.model}{path}", json=body)
        except httpx.HTTPError as exc:
            raise ServerUnreachable(f"model server at {self.url}: {exc!r}", 1.0) from exc
        if reply.status_code >= 400 and reply.status_code != 404:
            raise AdminRefused(
                f"{method} {path or '/'} -> {reply.status_code}: {reply.text[:300]}", 1.0
            )
        return reply

    def served(self) -> dict[str, Served]:
        """The versions on the server now."""
        body = self._call("GET", "").json()
        return {v["version"]: Served(v["role"], float(v["weight"])) for v in body["versions"]}

    def primary(self) -> str | None:
        return next((v for v, s in self.served().items() if s.role == "primary"), None)

    def snapshot(self) -> MetricsSnapshot:
        """The server's cumulative counters per version, stamped with the wall clock."""
        body = self._call("GET", "/stats").json()
        versions: dict[str, VersionStats] = {}
        shadow: dict[str, ShadowStats] = {}
        for name, stats in body["versions"].items():
            if stats["role"] == "shadow":
                shadow[name] = ShadowStats(
                    stats["shadow_compared"], stats["shadow_diverged"], stats["shadow_errors"]
                )
            else:
                p90 = stats["latency_p90_ms"]
                versions[name] = VersionStats(
                    stats["requests_total"],
                    stats["errors_total"],
                    None if p90 is None else p90 / 1000,
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
            case SetCanaryWeight(version=version, weight=weight):
                self.set_canary_weight(version, weight / 100.0)
            case Promote(version=version):
                self.promote(version)
            case Unload(version=version):
                self.unload(version)
            case RecordEvent():
                pass
        return None

    def _add(self, version: str, role: str, weight: float) -> None:
        self._call("POST", "/versions", {"version": version, "role": role, "weight": weight})

    def _remove_role(self, served: dict[str, Served], role: str, keep: str | None) -> None:
        for name, info in served.items():
            if info.role == role and name != keep:
                self._call("DELETE", f"/versions/{name}")

    def _ensure(self, version: str, role: str, weight: float) -> None:
        """``version`` loaded in ``role`` (moved there if it sits in the other role)."""
        served = self.served()
        found = served.get(version)
        if found is not None and found.role in (role, "primary"):
            return
        if found is not None:
            self._call("DELETE", f"/versions/{version}")
        self._remove_role(served, role, keep=None)
        self._add(version, role, weight)

    def set_shadow(self, version: str | None) -> None:
        served = self.served()
        self._remove_role(served, "shadow", keep=version)
        if version is not None:
            self._ensure(version, "shadow", 0.0)

    def set_canary_weight(self, version: str, share: float) -> None:
        found = self.served().get(version)
        if found is not None and found.role == "canary":
            self._call("PUT", "/traffic", {"canary_weight": share})
        elif (found is None or found.role == "shadow") and share > 0:
            self._ensure(version, "canary", share)

    def promote(self, version: str) -> None:
        found = self.served().get(version)
        if found is not None and found.role == "primary":
            return
        if found is None or found.role == "shadow":
            self._ensure(version, "canary", 0.0)
        self._call("POST", "/promote", {"version": version})

    def unload(self, version: str) -> None:
        found = self.served().get(version)
        if found is not None and found.role != "primary":
            self._call("DELETE", f"/versions/{version}")
