"""modelyard's metrics agree with their definitions (docs/evaluation.md) and with
scikit-learn's on the same labels and scores, edge cases included."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk
from sklearn.metrics import accuracy_score, recall_score, roc_auc_score

from modelyard.evaluation.metrics import classification_metrics, log_loss, regression, roc_auc


@pytest.mark.parametrize("ties", [False, True])
def test_metrics_match_scikit_learn(ties: bool) -> None:
    rng = np.random.default_rng(5)
    labels = (rng.random(3000) < 0.2).astype(np.int64)
    scores = np.clip(0.2 + 0.3 * labels + rng.normal(0, 0.2, 3000), 0, 1)
    if ties:
        scores = np.round(scores, 1)  # many equal scores, and exact 0 and 1
    got = classification_metrics(labels, scores, threshold=0.5)
    assert got["auc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert got["loss"] == pytest.approx(sk.log_loss(labels, scores), abs=1e-12)
    assert got["accuracy"] == pytest.approx(accuracy_score(labels, scores >= 0.5))
    assert got["recall"] == pytest.approx(recall_score(labels, scores >= 0.5))
    assert got["click_rate_ratio"] == pytest.approx(scores.mean() / labels.mean())
    assert got["base_loss"] == pytest.approx(sk.log_loss(labels, np.full(3000, labels.mean())))


def _pairwise_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """The definition: over every (positive, negative) pair, 1 if the positive scores higher,
    a half if they tie."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (pos.size * neg.size))


def _defined_loss(labels: np.ndarray, scores: np.ndarray) -> float:
    eps = np.finfo(np.float64).eps
    p = np.clip(scores, eps, 1 - eps)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


EDGE_CASES = {
    "separated": ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]),
    "inverted": ([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]),
    "all scores tied": ([0, 1, 0, 1, 1], [0.5] * 5),
    "some ties across classes": ([0, 1, 0, 1, 0, 1], [0.3, 0.3, 0.6, 0.6, 0.9, 0.1]),
    "exact 0 and 1 (clipped)": ([0, 1, 1, 0], [0.0, 1.0, 0.0, 1.0]),
    "one row of each": ([1, 0], [0.4, 0.4]),
}


@pytest.mark.parametrize("case", EDGE_CASES)
def test_auc_and_loss_match_their_definitions_and_scikit_learn(case: str) -> None:
    labels, scores = (np.asarray(x, dtype=np.float64) for x in EDGE_CASES[case])
    assert roc_auc(labels, scores) == pytest.approx(_pairwise_auc(labels, scores), abs=1e-12)
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert log_loss(labels, scores) == pytest.approx(_defined_loss(labels, scores), rel=1e-12)
    assert log_loss(labels, scores) == pytest.approx(sk.log_loss(labels, scores), rel=1e-12)


@pytest.mark.parametrize("only", [0, 1])
def test_one_class_has_a_loss_and_no_auc(only: int) -> None:
    """scikit-learn refuses both here; the loss is still defined, the AUC is not (no pair)."""
    labels = np.full(4, only, dtype=np.float64)
    scores = np.array([0.1, 0.4, 0.6, 0.9])
    got = classification_metrics(labels, scores, threshold=0.5)
    assert np.isnan(got["auc"])
    assert got["loss"] == pytest.approx(_defined_loss(labels, scores), rel=1e-12)
    assert got["base_loss"] == pytest.approx(_defined_loss(labels, np.full(4, float(only))))


def test_calibration_error_of_perfectly_calibrated_bins_is_zero() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 0, 0, 0])
    scores = np.array([0.05] * 3 + [0.95] * 3 + [0.25] * 4)
    # bin 0 (0.05): rate 0 vs 0.05; bin 9 (0.95): rate 1 vs 0.95; bin 2 (0.25): 1/4 vs 0.25
    got = classification_metrics(labels, scores, 0.5)["ece"]
    assert got == pytest.approx((3 * 0.05 + 3 * 0.05 + 0) / 10)


@pytest.mark.parametrize(
    ("name", "candidate", "production", "worse"),
    [("auc", 0.70, 0.80, 0.10), ("loss", 0.40, 0.30, 0.10), ("click_rate_ratio", 1.3, 0.9, 0.2)],
)
def test_regression_points_the_right_way(
    name: str, candidate: float, production: float, worse: float
) -> None:
    assert regression(name, candidate, production) == pytest.approx(worse)
    assert regression(name, production, candidate) < worse
