"""The checks that judge a new version against the current one, and their verdicts.

In shadow: the share of mirrored predictions that diverged, and the shadow error rate. On
live traffic: the new version's error rate, and its P90 latency over the current version's.
Each check needs ``min_requests`` observations before it can pass or fail; with fewer it is
*inconclusive*. A value above its threshold fails; a value equal to it passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from modelyard.rollout.errors import RolloutStateError
from modelyard.rollout.metrics import (
    MetricsSnapshot,
    ShadowStats,
    VersionStats,
    shadow_window,
    version_window,
)
from modelyard.rollout.plan import Thresholds

ERROR_RATE = "error_rate"
LATENCY_P90_RATIO = "latency_p90_ratio"
SHADOW_DIVERGENCE = "shadow_divergence"
SHADOW_ERROR_RATE = "shadow_error_rate"


class Verdict(StrEnum):
    """The outcome of one check, or of a whole analysis."""

    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class CheckResult:
    """One check's figures: what was measured, over how many requests, against what limit."""

    name: str
    """``error_rate``, ``latency_p90_ratio``, ``shadow_divergence`` or ``shadow_error_rate``."""
    value: float | None
    """The measured value; ``None`` when it could not be computed (no requests, no latency)."""
    threshold: float
    """The highest value that passes."""
    verdict: Verdict
    min_requests: int
    """Observations the check needs before it can pass or fail."""
    observed_requests: int
    """Observations it had."""

    def describe(self) -> str:
        """One line for a person, e.g. ``error_rate 0.0800 > 0.0100 (failed, 250 requests)``."""
        value = "n/a" if self.value is None else f"{self.value:.4f}"
        sign = {Verdict.PASSED: "<=", Verdict.FAILED: ">"}.get(self.verdict, "vs")
        return (
            f"{self.name} {value} {sign} {self.threshold:.4f} ({self.verdict}, "
            f"{self.observed_requests} requests, {self.min_requests} needed)"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reads it back."""
        return {
            "name": self.name,
            "value": self.value,
            "threshold": self.threshold,
            "verdict": self.verdict.value,
            "min_requests": self.min_requests,
            "observed_requests": self.observed_requests,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """The result that :meth:`to_dict` wrote."""
        try:
            value = data["value"]
            return cls(
                name=str(data["name"]),
                value=None if value is None else float(value),
                threshold=float(data["threshold"]),
                verdict=Verdict(data["verdict"]),
                min_requests=int(data["min_requests"]),
                observed_requests=int(data["observed_requests"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RolloutStateError(f"stored check result is unreadable: {exc!r}") from exc


def _judge(
    name: str, value: float | None, threshold: float, observed: int, min_requests: int
) -> CheckResult:
    if value is None or observed < min_requests:
        verdict = Verdict.INCONCLUSIVE
    elif value > threshold:
        verdict = Verdict.FAILED
    else:
        verdict = Verdict.PASSED
    return CheckResult(name, value, threshold, verdict, min_requests, observed)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole > 0 else None


def error_rate_check(candidate: VersionStats, thresholds: Thresholds) -> CheckResult:
    """The new version's failed share of its live requests in the window."""
    value = _share(candidate.errors, candidate.requests)
    return _judge(
        ERROR_RATE, value, thresholds.max_error_rate, candidate.requests, thresholds.min_requests
    )


def latency_check(
    candidate: VersionStats, current: VersionStats, thresholds: Thresholds
) -> CheckResult:
    """The new version's P90 latency over the current one's; counts the new version's requests.

    Inconclusive when either P90 is unknown or the current one's is zero.
    """
    value = None
    if candidate.latency_p90 is not None and current.latency_p90:
        value = candidate.latency_p90 / current.latency_p90
    return _judge(
        LATENCY_P90_RATIO,
        value,
        thresholds.max_latency_p90_ratio,
        candidate.requests,
        thresholds.min_requests,
    )


def divergence_check(shadow: ShadowStats, thresholds: Thresholds) -> CheckResult:
    """The share of compared shadow predictions that differed from the primary's."""
    value = _share(shadow.diverged, shadow.compared)
    return _judge(
        SHADOW_DIVERGENCE,
        value,
        thresholds.max_divergence,
        shadow.compared,
        thresholds.min_requests,
    )


def shadow_error_check(shadow: ShadowStats, thresholds: Thresholds) -> CheckResult:
    """The share of mirrored calls that raised (compared + errors is every mirrored call)."""
    calls = shadow.compared + shadow.errors
    value = _share(shadow.errors, calls)
    return _judge(
        SHADOW_ERROR_RATE, value, thresholds.max_error_rate, calls, thresholds.min_requests
    )


def analyse_shadow(
    base: MetricsSnapshot | None,
    latest: MetricsSnapshot | None,
    version: str,
    thresholds: Thresholds,
) -> tuple[CheckResult, ...]:
    """The shadow checks of ``version`` over the window from ``base`` to ``latest``."""
    window = shadow_window(base, latest, version)
    return (divergence_check(window, thresholds), shadow_error_check(window, thresholds))


def analyse_canary(
    base: MetricsSnapshot | None,
    latest: MetricsSnapshot | None,
    version: str,
    current: str,
    thresholds: Thresholds,
) -> tuple[CheckResult, ...]:
    """The live checks of ``version`` against ``current`` over the window ``base``..``latest``."""
    candidate = version_window(base, latest, version)
    incumbent = version_window(base, latest, current)
    return (
        error_rate_check(candidate, thresholds),
        latency_check(candidate, incumbent, thresholds),
    )


def overall(checks: Iterable[CheckResult]) -> Verdict:
    """Failed if any check failed; else inconclusive if any was; else passed."""
    verdicts = {check.verdict for check in checks}
    if Verdict.FAILED in verdicts:
        return Verdict.FAILED
    if Verdict.INCONCLUSIVE in verdicts:
        return Verdict.INCONCLUSIVE
    return Verdict.PASSED
