"""The evaluation metrics of a binary classifier's scores.

Log loss and ROC AUC are scikit-learn's (a core dependency, and what the example's
``train.py`` logs its training-set figures with, so the two compare like for like); expected
calibration error over equal-width bins, the predicted/observed click-rate ratio, and accuracy
and recall at a threshold are a line of numpy each. ``docs/evaluation.md`` gives each
definition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CALIBRATION_BINS = 10

HIGHER_IS_BETTER = frozenset({"auc", "accuracy", "recall"})
"""Metrics where a larger value is better; for the others smaller is (ratio: nearer 1)."""


@dataclass(frozen=True)
class Timing:
    """Single-row inference time percentiles, in milliseconds."""

    p50_ms: float
    p90_ms: float
    p99_ms: float


def log_loss(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean negative log-likelihood of scores in [0, 1], clipped to [eps, 1 - eps] by
    scikit-learn; defined when every label is the same class too."""
    from sklearn import metrics  # lazily: seconds of import that most commands never need

    # labels=[0, 1]: scikit-learn infers the classes from the labels otherwise, and refuses
    # a set of one class, where the loss is still well defined
    return float(metrics.log_loss(labels, scores, labels=[0, 1]))


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties counted half; NaN
    when the labels hold one class only (there is no pair to rank)."""
    positives = int(np.count_nonzero(labels == 1))
    if positives in (0, labels.size):
        # scikit-learn warns (an error under the tests' filterwarnings) and returns NaN
        return float("nan")
    from sklearn import metrics

    return float(metrics.roc_auc_score(labels, scores))


def expected_calibration_error(
    labels: np.ndarray, scores: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """Sum over equal-width score bins of |mean score - observed rate|, weighted by share."""
    index = np.minimum((scores * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        if count:
            total += count * abs(float(scores[mask].mean()) - float(labels[mask].mean()))
    return total / labels.size


def classification_metrics(
    labels: np.ndarray, scores: np.ndarray, threshold: float
) -> dict[str, float]:
    """Every score-based metric of the evaluation, by name (see the module docstring)."""
    labels = labels.astype(np.float64)
    scores = scores.astype(np.float64)
    base_rate = float(labels.mean())
    predicted = scores >= threshold
    positives = labels == 1
    base = np.full_like(scores, base_rate)
    return {
        "loss": log_loss(labels, scores),
        "auc": roc_auc(labels, scores),
        "ece": expected_calibration_error(labels, scores),
        "click_rate_ratio": float(scores.mean()) / base_rate if base_rate else float("nan"),
        "accuracy": float((predicted == positives).mean()),
        "recall": float(predicted[positives].mean()) if positives.any() else float("nan"),
        "base_rate": base_rate,
        "base_loss": log_loss(labels, base),
        "rows": float(labels.size),
    }


def timing(durations_s: Sequence[float]) -> Timing:
    """P50/P90/P99 of per-call durations given in seconds."""
    ms = np.asarray(durations_s, dtype=np.float64) * 1000.0
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return Timing(float(p50), float(p90), float(p99))


def badness(name: str, value: float) -> float:
    """A value on a scale where smaller is better, so that two versions compare alike."""
    if name in HIGHER_IS_BETTER:
        return -value
    if name == "click_rate_ratio":
        return abs(value - 1.0)
    return value


def regression(name: str, candidate: float, production: float) -> float:
    """How much worse ``candidate`` is than ``production`` on ``name`` (negative: better)."""
    return badness(name, candidate) - badness(name, production)


def prefixed(metrics: Mapping[str, float], prefix: str = "eval_") -> dict[str, float]:
    """``{'auc': ...}`` as ``{'eval_auc': ...}``, the names on the version's MLflow run."""
    return {f"{prefix}{name}": value for name, value in metrics.items()}
