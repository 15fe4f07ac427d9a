"""The admin API's wire contract: one set of pydantic models for the server and its client.

The server's admin routes (:mod:`modelyard.serving.admin.api`) parse requests and build replies
with these models, and the typed client (:mod:`modelyard.serving.admin.client`) sends and
reads the same ones, so the two cannot drift apart. A canary's share of traffic has one unit
on the wire: ``canary_share``, a fraction from 0 to 1.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["primary", "canary", "shadow"]


class AdminModel(BaseModel):
    """Strict base: unknown fields are refused, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AddVersion(AdminModel):
    """``POST /admin/models/{name}/versions``: load and warm another version."""

    version: str = Field(min_length=1)
    """Registry version to load (through the loader) and warm."""
    role: Literal["canary", "shadow"] = "canary"
    """``canary`` answers ``canary_share`` of requests; ``shadow`` is mirrored, never answered."""
    canary_share: float = Field(0.0, ge=0.0, le=1.0)
    """Fraction (0-1) of requests the canary answers."""
    method: Literal["predict", "predict_proba"] | None = None
    """Model method; the primary's when unset."""


class SetTraffic(AdminModel):
    """``PUT /admin/models/{name}/traffic``: move the canary's share."""

    canary_share: float = Field(ge=0.0, le=1.0)
    """Fraction (0-1) of requests the canary answers."""


class PromoteVersion(AdminModel):
    """``POST /admin/models/{name}/promote``: make a version the primary."""

    version: str | None = None
    """Version to make primary; the canary (else the shadow) when unset."""


class ServedVersion(AdminModel):
    """One version on the server, as the admin API describes it."""

    version: str
    role: Role
    canary_share: float = Field(ge=0.0, le=1.0)
    """Fraction (0-1) of requests this version answers as the canary (0 for other roles)."""
    ready: bool
    """Warm-up done: the version answers requests."""
    method: str
    stats: dict[str, float | int | None]
    """Cumulative counters (requests_total, errors_total, latency_p90_ms, shadow_*)."""


class DeploymentView(AdminModel):
    """``GET /admin/models/{name}`` and the reply of every change."""

    model: str
    versions: list[ServedVersion]


class VersionStats(AdminModel):
    """One version's counters in ``GET /admin/models/{name}/stats``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    role: Role
    canary_share: float
    requests_total: int = 0
    errors_total: int = 0
    latency_p90_ms: float | None = None
    shadow_compared: int = 0
    shadow_diverged: int = 0
    shadow_errors: int = 0


class StatsView(AdminModel):
    """``GET /admin/models/{name}/stats``: every version's cumulative counters."""

    model: str
    versions: dict[str, VersionStats]
