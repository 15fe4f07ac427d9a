"""Over- and underfitting: training-set metrics against evaluation metrics, and the base rate.

A model overfits when it does much better on its training set than on held-out data (AUC
higher, or loss lower, by more than ``evaluation.fit_tolerance``); it underfits, or learnt
nothing, when its evaluation loss is no better than always predicting the base rate, or its
AUC no better than chance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from modelyard.evaluation.metrics import regression

TRAIN_PREFIX = "train_"
"""The training script logs its training-set metrics under this prefix (``train_auc``)."""


@dataclass(frozen=True)
class FitFinding:
    """One flag raised about how the model fits."""

    kind: Literal["overfit", "underfit"]
    metric: str
    train: float | None
    evaluation: float
    message: str


def fit_findings(
    train_metrics: Mapping[str, float], eval_metrics: Mapping[str, float], tolerance: float
) -> list[FitFinding]:
    """The over- and underfitting flags; empty when the model fits as it should."""
    found: list[FitFinding] = []
    for name in ("auc", "loss"):
        train = train_metrics.get(TRAIN_PREFIX + name)
        held_out = eval_metrics.get(name)
        if train is None or held_out is None:
            continue
        gap = regression(name, held_out, train)
        if gap > tolerance:
            found.append(
                FitFinding(
                    "overfit",
                    name,
                    train,
                    held_out,
                    f"{name} is {train:.4g} on the training set but {held_out:.4g} on the "
                    f"evaluation set: a gap of {gap:.4g} > fit_tolerance {tolerance:g}",
                )
            )
    loss, base_loss = eval_metrics.get("loss"), eval_metrics.get("base_loss")
    if loss is not None and base_loss is not None and loss >= base_loss:
        found.append(
            FitFinding(
                "underfit",
                "loss",
                train_metrics.get(TRAIN_PREFIX + "loss"),
                loss,
                f"loss {loss:.4g} is no better than predicting the base rate "
                f"{eval_metrics.get('base_rate', float('nan')):.4g} for every row "
                f"(loss {base_loss:.4g})",
            )
        )
    auc = eval_metrics.get("auc")
    if auc is not None and auc <= 0.5 + tolerance:
        found.append(
            FitFinding(
                "underfit",
                "auc",
                train_metrics.get(TRAIN_PREFIX + "auc"),
                auc,
                f"auc {auc:.4g} is no better than chance (0.5, within fit_tolerance {tolerance:g})",
            )
        )
    return found
