"""What the analysis reads: the server's counters for each version, as plain data.

The controller reads the model server's stats endpoint and hands the machine a
:class:`MetricsSnapshot` of *cumulative* counters (as Prometheus counters are). The machine keeps
the snapshot taken when a phase began and judges the difference, so a window is "everything
since this phase started". A counter that went down means the server restarted: the window
then starts again from zero (Prometheus' reset rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelyard.rollout.errors import RolloutStateError


@dataclass(frozen=True)
class VersionStats:
    """Live traffic of one version: requests it answered (primary or canary role, not shadow)."""

    requests: int = 0
    """Requests answered, cumulative."""
    errors: int = 0
    """Of those, requests that failed (5xx), cumulative."""
    latency_p90: float | None = None
    """P90 request latency in seconds over the server's recent window; ``None`` if unknown."""


@dataclass(frozen=True)
class ShadowStats:
    """Mirrored traffic of a shadow version: every mirrored call is compared or errored."""

    compared: int = 0
    """Shadow predictions compared with the primary's, cumulative."""
    diverged: int = 0
    """Of those, predictions that differed, cumulative."""
    errors: int = 0
    """Mirrored calls that raised, cumulative."""


@dataclass(frozen=True)
class MetricsSnapshot:
    """The server's counters at one moment, keyed by version."""

    at: float
    """When the counters were read, on the controller's clock."""
    versions: Mapping[str, VersionStats] = field(default_factory=dict)
    """Live traffic per version (the current one and, as canary, the new one)."""
    shadow: Mapping[str, ShadowStats] = field(default_factory=dict)
    """Mirrored traffic per shadow version."""

    def version(self, version: str) -> VersionStats:
        """Stats of ``version``; zeros when the server did not report it."""
        return self.versions.get(version, VersionStats())

    def shadow_of(self, version: str) -> ShadowStats:
        """Shadow stats of ``version``; zeros when the server did not report it."""
        return self.shadow.get(version, ShadowStats())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reads it back."""
        return {
            "at": self.at,
            "versions": {
                v: {"requests": s.requests, "errors": s.errors, "latency_p90": s.latency_p90}
                for v, s in self.versions.items()
            },
            "shadow": {
                v: {"compared": s.compared, "diverged": s.diverged, "errors": s.errors}
                for v, s in self.shadow.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricsSnapshot:
        """The snapshot that :meth:`to_dict` wrote."""
        try:
            return cls(
                at=float(data["at"]),
                versions={str(v): VersionStats(**s) for v, s in data["versions"].items()},
                shadow={str(v): ShadowStats(**s) for v, s in data["shadow"].items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RolloutStateError(f"stored metrics snapshot is unreadable: {exc!r}") from exc


def version_window(
    base: MetricsSnapshot | None, latest: MetricsSnapshot | None, version: str
) -> VersionStats:
    """Requests and errors of ``version`` between ``base`` and ``latest``; latency as latest."""
    if latest is None:
        return VersionStats()
    now = latest.version(version)
    then = base.version(version) if base is not None else VersionStats()
    if now.requests < then.requests or now.errors < then.errors:
        return now  # the server restarted: its counters began again at zero
    return VersionStats(now.requests - then.requests, now.errors - then.errors, now.latency_p90)


def shadow_window(
    base: MetricsSnapshot | None, latest: MetricsSnapshot | None, version: str
) -> ShadowStats:
    """Shadow counts of ``version`` between ``base`` and ``latest``."""
    if latest is None:
        return ShadowStats()
    now = latest.shadow_of(version)
    then = base.shadow_of(version) if base is not None else ShadowStats()
    if now.compared < then.compared or now.diverged < then.diverged or now.errors < then.errors:
        return now
    return ShadowStats(
        now.compared - then.compared, now.diverged - then.diverged, now.errors - then.errors
    )
