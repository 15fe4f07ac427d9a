"""The rollout plan: what ``deploy.yaml``'s ``rollout`` section asks for, as plain data.

A :class:`RolloutPlan` is built once from the config when a rollout starts and is stored inside
the rollout's state, so a rollout that resumes after a restart follows the plan it began with
even if ``deploy.yaml`` changed since.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from modelyard.rollout.errors import PlanError, RolloutStateError

if TYPE_CHECKING:
    from modelyard.config import Analysis, Rollout

InconclusivePolicy = Literal["rollback", "advance"]
"""What happens when a phase is still inconclusive after its extra intervals."""


@dataclass(frozen=True)
class Thresholds:
    """The limits the analysis holds the new version to (``rollout.analysis``)."""

    max_error_rate: float = 0.01
    """Highest share of the new version's requests that may fail."""
    max_latency_p90_ratio: float = 1.5
    """Highest ratio of the new version's P90 latency to the current version's."""
    max_divergence: float = 0.05
    """Highest share of shadow predictions that may differ from the current version's."""
    min_requests: int = 50
    """Requests a check needs before it can pass or fail; fewer make it inconclusive."""

    @classmethod
    def from_config(cls, analysis: Analysis) -> Thresholds:
        """The thresholds of a ``deploy.yaml`` ``rollout.analysis`` section."""
        return cls(
            max_error_rate=analysis.max_error_rate,
            max_latency_p90_ratio=analysis.max_latency_p90_ratio,
            max_divergence=analysis.max_divergence,
            min_requests=analysis.min_requests,
        )


@dataclass(frozen=True)
class RolloutPlan:
    """The steps of one rollout: shadow time, canary weights, interval, checks, and the rules."""

    steps: tuple[float, ...] = (5.0, 25.0, 50.0, 100.0)
    """Canary weights in percent, increasing, ending at 100."""
    interval: float = 30.0
    """Seconds each step is held; analysis runs at the end of each interval."""
    shadow: float | None = 120.0
    """Seconds of mirrored traffic before any live share; ``None`` skips the shadow phase."""
    thresholds: Thresholds = field(default_factory=Thresholds)
    """The checks' limits."""
    max_inconclusive: int = 3
    """Extra intervals a phase may wait for enough requests before ``on_inconclusive`` rules."""
    on_inconclusive: InconclusivePolicy = "rollback"
    """``rollback``: too little traffic to judge counts as a failure; ``advance``: as a pass."""
    load_timeout: float = 600.0
    """Seconds the new version may take to load and warm up before the rollout is aborted."""
    progressive: bool = True
    """``False`` (``rollout.enabled: false``): promote as soon as the new version is loaded."""

    def __post_init__(self) -> None:
        steps = self.steps
        if not steps or any(not 0 < w <= 100 for w in steps):
            raise PlanError(f"rollout steps {list(steps)} must be weights in (0, 100]")
        if any(b <= a for a, b in itertools.pairwise(steps)) or steps[-1] != 100:
            raise PlanError(f"rollout steps {list(steps)} must increase and end at 100")
        if self.progressive and self.interval <= 0:
            raise PlanError(f"rollout interval must be above zero, not {self.interval}")
        if self.shadow is not None and self.shadow <= 0:
            raise PlanError(f"shadow time must be above zero or unset, not {self.shadow}")
        if self.max_inconclusive < 0:
            raise PlanError(f"max_inconclusive must be zero or more, not {self.max_inconclusive}")
        if self.on_inconclusive not in ("rollback", "advance"):
            raise PlanError(
                f"on_inconclusive must be 'rollback' or 'advance', not {self.on_inconclusive!r}"
            )
        if self.load_timeout <= 0:
            raise PlanError(f"load_timeout must be above zero, not {self.load_timeout}")

    @classmethod
    def from_config(
        cls,
        rollout: Rollout,
        *,
        max_inconclusive: int = 3,
        on_inconclusive: InconclusivePolicy = "rollback",
        load_timeout: float = 600.0,
    ) -> RolloutPlan:
        """The plan of a ``deploy.yaml`` ``rollout`` section (durations already in seconds)."""
        return cls(
            steps=tuple(float(w) for w in rollout.steps),
            interval=rollout.interval,
            shadow=rollout.shadow,
            thresholds=Thresholds.from_config(rollout.analysis),
            max_inconclusive=max_inconclusive,
            on_inconclusive=on_inconclusive,
            load_timeout=load_timeout,
            progressive=rollout.enabled,
        )

    @property
    def duration(self) -> float:
        """Seconds the whole plan takes when every check passes at its first analysis."""
        if not self.progressive:
            return 0.0
        return (self.shadow or 0.0) + self.interval * len(self.steps)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reads it back."""
        data = asdict(self)
        data["steps"] = list(self.steps)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RolloutPlan:
        """The plan that :meth:`to_dict` wrote."""
        try:
            return cls(
                steps=tuple(float(w) for w in data["steps"]),
                interval=float(data["interval"]),
                shadow=None if data["shadow"] is None else float(data["shadow"]),
                thresholds=Thresholds(**data["thresholds"]),
                max_inconclusive=int(data["max_inconclusive"]),
                on_inconclusive=data["on_inconclusive"],
                load_timeout=float(data["load_timeout"]),
                progressive=bool(data["progressive"]),
            )
        except (KeyError, TypeError, ValueError, PlanError) as exc:
            raise RolloutStateError(f"stored rollout plan is unreadable: {exc!r}") from exc
