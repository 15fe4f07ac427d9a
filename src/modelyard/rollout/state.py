"""The state of one rollout, as a frozen value that round-trips through a JSON-able dict.

The controller stores :meth:`RolloutState.to_dict` after every committed transition and reads
it back with :meth:`RolloutState.from_dict` after its own restart. The state holds its own plan
and the counters at the start of the phase, so a resumed rollout behaves exactly as the
uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from modelyard.rollout.analysis import CheckResult
from modelyard.rollout.errors import PlanError, RolloutStateError
from modelyard.rollout.metrics import MetricsSnapshot
from modelyard.rollout.plan import RolloutPlan

FORMAT = 1
"""Version of the dict layout; :meth:`RolloutState.from_dict` refuses others."""


class Phase(StrEnum):
    """Where a rollout is. The last three are terminal."""

    PENDING = "pending"
    LOADING = "loading"
    SHADOW = "shadow"
    CANARY = "canary"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    ABORTED = "aborted"


TERMINAL = frozenset({Phase.PROMOTED, Phase.ROLLED_BACK, Phase.ABORTED})
TIMED = frozenset({Phase.LOADING, Phase.SHADOW, Phase.CANARY})


@dataclass(frozen=True)
class Outcome:
    """How a rollout ended: why, when, by whom, and the check that failed if one did."""

    reason: str
    at: float
    by: str = ""
    """The user who asked, or ``analysis`` / ``loader`` when the machine decided."""
    failed_check: CheckResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        check = self.failed_check.to_dict() if self.failed_check else None
        return {"reason": self.reason, "at": self.at, "by": self.by, "failed_check": check}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outcome:
        """The outcome that :meth:`to_dict` wrote."""
        check = data["failed_check"]
        return cls(
            reason=str(data["reason"]),
            at=float(data["at"]),
            by=str(data["by"]),
            failed_check=None if check is None else CheckResult.from_dict(check),
        )


@dataclass(frozen=True)
class Routing:
    """Where live traffic goes in a state: what the server should be doing right now."""

    primary: str | None
    canary: str | None = None
    canary_weight: float = 0.0
    shadow: str | None = None


@dataclass(frozen=True)
class RolloutState:
    """One rollout of ``version`` of ``model`` replacing ``current``."""

    model: str
    version: str
    """The new version."""
    current: str | None
    """The version serving now; ``None`` for a first deployment (nothing to compare with)."""
    plan: RolloutPlan
    created_at: float
    phase: Phase = Phase.PENDING
    step: int = -1
    """Index into ``plan.steps`` while in the canary phase; -1 before."""
    phase_started_at: float | None = None
    phase_ends_at: float | None = None
    """End of the phase (load timeout, shadow end, step end), extended while inconclusive."""
    next_analysis_at: float | None = None
    inconclusive: int = 0
    """Extra intervals this phase has waited for enough requests."""
    paused_at: float | None = None
    base: MetricsSnapshot | None = None
    """The counters when the phase began; windows are measured from here."""
    latest: MetricsSnapshot | None = None
    last_checks: tuple[CheckResult, ...] = ()
    outcome: Outcome | None = None
    seq: int = 0
    """Transitions applied so far; grows by one with every state change."""

    @property
    def terminal(self) -> bool:
        """Whether the rollout has ended (promoted, rolled back or aborted)."""
        return self.phase in TERMINAL

    @property
    def paused(self) -> bool:
        """Whether a user paused the rollout."""
        return self.paused_at is not None

    @property
    def weight(self) -> float:
        """Percent of live traffic the new version gets in this state."""
        if self.phase is Phase.PROMOTED:
            return 100.0
        if self.phase is Phase.CANARY:
            return self.plan.steps[self.step]
        return 0.0

    @property
    def routing(self) -> Routing:
        """The routing this state stands for (the deployments table records it)."""
        if self.phase is Phase.PROMOTED:
            return Routing(primary=self.version)
        if self.phase is Phase.SHADOW:
            return Routing(primary=self.current, shadow=self.version)
        if self.phase is Phase.CANARY:
            return Routing(self.current, canary=self.version, canary_weight=self.weight)
        return Routing(primary=self.current)

    @property
    def status(self) -> str:
        """A short label for a status view, e.g. ``canary 25% (paused)``."""
        label = self.phase.value
        if self.phase is Phase.CANARY:
            label = f"canary {self.weight:g}%"
        return f"{label} (paused)" if self.paused else label

    def time_left(self, now: float) -> float | None:
        """Seconds left in the current phase (frozen while paused); ``None`` if not timed."""
        if self.phase not in TIMED or self.phase_ends_at is None:
            return None
        clock = self.paused_at if self.paused_at is not None else now
        return max(0.0, self.phase_ends_at - clock)

    def total_time_left(self, now: float) -> float | None:
        """Seconds until promotion if every later check passes at once; ``None`` if unknown."""
        left = self.time_left(now)
        if left is None or self.phase is Phase.LOADING:
            return None
        later_steps = (
            len(self.plan.steps) - 1 - self.step
            if self.phase is Phase.CANARY
            else (len(self.plan.steps))
        )
        return left + later_steps * self.plan.interval

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reads it back to an equal state."""
        return {
            "format": FORMAT,
            "model": self.model,
            "version": self.version,
            "current": self.current,
            "plan": self.plan.to_dict(),
            "created_at": self.created_at,
            "phase": self.phase.value,
            "step": self.step,
            "phase_started_at": self.phase_started_at,
            "phase_ends_at": self.phase_ends_at,
            "next_analysis_at": self.next_analysis_at,
            "inconclusive": self.inconclusive,
            "paused_at": self.paused_at,
            "base": self.base.to_dict() if self.base else None,
            "latest": self.latest.to_dict() if self.latest else None,
            "last_checks": [check.to_dict() for check in self.last_checks],
            "outcome": self.outcome.to_dict() if self.outcome else None,
            "seq": self.seq,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RolloutState:
        """The state that :meth:`to_dict` wrote; :class:`RolloutStateError` if unreadable."""
        if data.get("format") != FORMAT:
            raise RolloutStateError(
                f"stored rollout state has format {data.get('format')!r}, this release reads "
                f"{FORMAT}; finish or abort the rollout with the release that started it"
            )
        try:
            return cls(
                model=str(data["model"]),
                version=str(data["version"]),
                current=None if data["current"] is None else str(data["current"]),
                plan=RolloutPlan.from_dict(data["plan"]),
                created_at=float(data["created_at"]),
                phase=Phase(data["phase"]),
                step=int(data["step"]),
                phase_started_at=_opt_float(data["phase_started_at"]),
                phase_ends_at=_opt_float(data["phase_ends_at"]),
                next_analysis_at=_opt_float(data["next_analysis_at"]),
                inconclusive=int(data["inconclusive"]),
                paused_at=_opt_float(data["paused_at"]),
                base=_opt_snapshot(data["base"]),
                latest=_opt_snapshot(data["latest"]),
                last_checks=tuple(CheckResult.from_dict(c) for c in data["last_checks"]),
                outcome=None if data["outcome"] is None else Outcome.from_dict(data["outcome"]),
                seq=int(data["seq"]),
            )
        except (KeyError, TypeError, ValueError, PlanError) as exc:
            raise RolloutStateError(f"stored rollout state is unreadable: {exc!r}") from exc


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_snapshot(value: Any) -> MetricsSnapshot | None:
    return None if value is None else MetricsSnapshot.from_dict(value)
