"""The analysis checks against their thresholds, and the windows they are measured over."""

from __future__ import annotations

import pytest

from modelyard.rollout import (
    CheckResult,
    MetricsSnapshot,
    ShadowStats,
    Thresholds,
    Verdict,
    VersionStats,
    analyse_canary,
    analyse_shadow,
    overall,
)
from modelyard.rollout.analysis import (
    divergence_check,
    error_rate_check,
    latency_check,
    shadow_error_check,
)
from modelyard.rollout.metrics import version_window

P, F, N = Verdict.PASSED, Verdict.FAILED, Verdict.INCONCLUSIVE  # N: not enough
T = Thresholds(max_error_rate=0.01, max_latency_p90_ratio=1.5, max_divergence=0.05, min_requests=50)


@pytest.mark.parametrize(
    ("requests", "errors", "verdict", "value"),
    [
        (1000, 0, P, 0.0),
        (1000, 10, P, 0.01),  # at the threshold passes
        (1000, 11, F, 0.011),
        (50, 1, F, 0.02),  # exactly min_requests judges
        (49, 49, N, 1.0),  # too few requests, however bad
        (0, 0, N, None),
    ],
)
def test_error_rate(requests, errors, verdict, value):
    check = error_rate_check(VersionStats(requests, errors), T)
    assert (check.verdict, check.value) == (verdict, value)
    assert (check.observed_requests, check.min_requests, check.threshold) == (requests, 50, 0.01)


@pytest.mark.parametrize(
    ("new_p90", "old_p90", "requests", "verdict"),
    [
        (0.10, 0.10, 100, P),
        (0.15, 0.10, 100, P),
        (0.16, 0.10, 100, F),
        (0.05, 0.10, 100, P),
        (0.90, 0.10, 10, N),
        (None, 0.10, 100, N),
        (0.10, None, 100, N),
        (0.10, 0.0, 100, N),
    ],
)
def test_latency_ratio(new_p90, old_p90, requests, verdict):
    check = latency_check(VersionStats(requests, 0, new_p90), VersionStats(500, 0, old_p90), T)
    assert check.verdict is verdict


@pytest.mark.parametrize(
    ("compared", "diverged", "errors", "divergence", "shadow_errors"),
    [
        (1000, 0, 0, P, P),
        (1000, 50, 0, P, P),
        (1000, 51, 0, F, P),
        (990, 0, 10, P, P),
        (980, 0, 20, P, F),
        (40, 40, 0, N, N),
        (40, 0, 10, N, F),  # 50 mirrored calls: enough to judge the errors, not the divergence
    ],
)
def test_shadow_checks(compared, diverged, errors, divergence, shadow_errors):
    shadow = ShadowStats(compared, diverged, errors)
    assert divergence_check(shadow, T).verdict is divergence
    assert shadow_error_check(shadow, T).verdict is shadow_errors


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [((P, P), P), ((P, N), N), ((N, F), F), ((F, P), F), ((), P)],
)
def test_overall_verdict(verdicts, expected):
    checks = [CheckResult("c", 0.0, 1.0, v, 1, 1) for v in verdicts]
    assert overall(checks) is expected


def _snap(at: float, new: VersionStats, old: VersionStats | None = None) -> MetricsSnapshot:
    return MetricsSnapshot(at, {"2": new, "1": old or VersionStats(1000, 0, 0.1)})


def test_window_counts_from_the_phase_start():
    base = _snap(0, VersionStats(100, 50, 0.3))
    latest = _snap(30, VersionStats(300, 51, 0.1))
    assert version_window(base, latest, "2") == VersionStats(200, 1, 0.1)
    checks = analyse_canary(base, latest, "2", "1", T)
    assert [c.verdict for c in checks] == [P, P]


def test_a_counter_that_went_down_restarts_the_window():
    base = _snap(0, VersionStats(500, 5, 0.1))
    latest = _snap(30, VersionStats(80, 2, 0.1))
    assert version_window(base, latest, "2") == VersionStats(80, 2, 0.1)


def test_versions_the_server_did_not_report_count_as_zero():
    assert version_window(None, MetricsSnapshot(1.0), "9") == VersionStats()
    checks = analyse_shadow(None, None, "2", T)
    assert [c.verdict for c in checks] == [N, N]


def test_describe_names_the_figures():
    check = error_rate_check(VersionStats(250, 20), T)
    assert check.describe() == "error_rate 0.0800 > 0.0100 (failed, 250 requests, 50 needed)"
