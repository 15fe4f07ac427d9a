"""modelyard's own metrics agree with scikit-learn's on the same labels and scores."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss, recall_score, roc_auc_score

from modelyard.evaluation.metrics import classification_metrics, regression


@pytest.mark.parametrize("ties", [False, True])
def test_metrics_match_scikit_learn(ties: bool) -> None:
    rng = np.random.default_rng(5)
    labels = (rng.random(3000) < 0.2).astype(np.int64)
    scores = np.clip(0.2 + 0.3 * labels + rng.normal(0, 0.2, 3000), 0, 1)
    if ties:
        scores = np.round(scores, 1)  # many equal scores, and exact 0 and 1
    got = classification_metrics(labels, scores, threshold=0.5)
    assert got["auc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert got["loss"] == pytest.approx(log_loss(labels, scores), abs=1e-12)
    assert got["accuracy"] == pytest.approx(accuracy_score(labels, scores >= 0.5))
    assert got["recall"] == pytest.approx(recall_score(labels, scores >= 0.5))
    assert got["click_rate_ratio"] == pytest.approx(scores.mean() / labels.mean())
    assert got["base_loss"] == pytest.approx(log_loss(labels, np.full(3000, labels.mean())))


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
