"""The evaluation gate: thresholds from model.yaml, and regression against production."""

from __future__ import annotations

import pytest

from modelyard.config.schema import Gate
from modelyard.workflows import check_gate

PROD = ("3", {"auc": 0.80, "loss": 0.30})


@pytest.mark.parametrize(
    ("gate", "metrics", "production", "passed", "reason"),
    [
        (Gate(metric="auc", min=0.7), {"auc": 0.75}, None, True, "meets the gate"),
        (Gate(metric="auc", min=0.7), {"auc": 0.65}, None, False, "auc=0.65 < min 0.7"),
        (Gate(metric="loss", max=0.4), {"loss": 0.5}, None, False, "loss=0.5 > max 0.4"),
        (Gate(metric="auc", min=0.7), {"loss": 0.5}, None, False, "logged no metric 'auc'"),
        (Gate(metric="auc", min=0.5, max_regression=0.02), {"auc": 0.79}, PROD, True, "meets"),
        (
            Gate(metric="auc", min=0.5, max_regression=0.02),
            {"auc": 0.70},
            PROD,
            False,
            "0.1 worse than production (version 3: 0.8)",
        ),
        (
            Gate(metric="loss", max=1.0, max_regression=0.05),
            {"loss": 0.40},
            PROD,
            False,
            "0.1 worse than production",
        ),
        (Gate(metric="loss", max=1.0, max_regression=0.05), {"loss": 0.20}, PROD, True, "meets"),
        (Gate(metric="auc", min=0.5, max_regression=0.02), {"auc": 0.70}, None, True, "meets"),
    ],
)
def test_gate(
    gate: Gate,
    metrics: dict[str, float],
    production: tuple[str, dict[str, float]] | None,
    passed: bool,
    reason: str,
) -> None:
    result = check_gate(gate, metrics, production)
    assert result is not None
    assert result.passed is passed
    assert reason in result.reason


def test_no_gate() -> None:
    assert check_gate(None, {"auc": 0.1}) is None


def test_production_is_the_registry_alias() -> None:
    from types import SimpleNamespace

    from modelyard.workflows.training import production_metrics

    run = SimpleNamespace(metrics={"auc": 0.8})
    version = SimpleNamespace(version=3, run_id="r3")
    registry = SimpleNamespace(
        production=lambda name: version if name == "ctr" else None,
        tracking=SimpleNamespace(get_run=lambda run_id: run),
    )
    assert production_metrics(registry, "ctr") == ("3", {"auc": 0.8})  # type: ignore[arg-type]
    assert production_metrics(registry, "other") is None  # type: ignore[arg-type]
