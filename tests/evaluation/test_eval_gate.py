"""The gate evaluates the candidate and production on the same data and fails closed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelyard.config import Workspace
from modelyard.config.schema import Evaluation, Gate
from modelyard.evaluation import compare, run_gate
from modelyard.evaluation.fit import fit_findings
from modelyard.registry import Registry

CONFIG = Evaluation(
    gate=Gate(metric="auc", min=0.6, max_regression=0.01), max_regression={"loss": 0.02}
)


@pytest.mark.parametrize(
    ("candidate", "passed", "reason"),
    [
        ({"auc": 0.80, "loss": 0.31}, True, "auc=0.8 (production version 1: 0.8) meets the gate"),
        ({"auc": 0.75, "loss": 0.31}, False, "auc=0.75 against production version 1's 0.8"),
        ({"auc": 0.80, "loss": 0.40}, False, "loss=0.4 against production version 1's 0.3"),
        ({"auc": 0.55, "loss": 0.30}, False, "auc=0.55 < min 0.6"),
    ],
)
def test_compare(candidate: dict[str, float], passed: bool, reason: str) -> None:
    ok, why = compare(CONFIG, candidate, (1, {"auc": 0.80, "loss": 0.30}))
    assert ok is passed
    assert reason in why


def test_worse_candidate_is_refused_with_both_figures(eval_ws: Workspace) -> None:
    registry = Registry.for_workspace(eval_ws)
    registry.set_alias("ctr", "production", 1)
    verdict = run_gate(eval_ws, "ctr", 3)
    assert not verdict.passed
    assert verdict.production == 1
    new, old = verdict.candidate_metrics["auc"], verdict.production_metrics["auc"]
    assert new < old
    assert f"auc={new:.4g}" in verdict.reason
    assert f"{old:.4g}" in verdict.reason
    tags = registry.resolve("ctr", 3).tags
    assert tags["modelyard.gate"] == "failed"
    recorded = json.loads(tags["modelyard.gate.verdict"])
    assert recorded["dataset_sha256"] == verdict.dataset_sha256
    assert recorded["production_metrics"]["auc"] == pytest.approx(old)


def test_gate_without_a_dataset_fails_closed(eval_ws: Workspace, eval_dir: Path) -> None:
    (eval_dir / "models" / "ctr" / "eval.parquet").unlink()
    verdict = run_gate(eval_ws, "ctr", 2, production=None)
    assert not verdict.passed
    assert "the gate cannot run" in verdict.reason
    assert "eval.parquet" in verdict.reason


def test_fit_flags_overfit_and_a_model_no_better_than_the_base_rate() -> None:
    found = fit_findings(
        {"train_auc": 0.99, "train_loss": 0.05},
        {"auc": 0.52, "loss": 0.45, "base_loss": 0.44, "base_rate": 0.15},
        tolerance=0.05,
    )
    kinds = sorted((f.kind, f.metric) for f in found)
    assert kinds == [
        ("overfit", "auc"),
        ("overfit", "loss"),
        ("underfit", "auc"),
        ("underfit", "loss"),
    ]
    assert (
        fit_findings({"train_auc": 0.84}, {"auc": 0.83, "loss": 0.3, "base_loss": 0.44}, 0.05) == []
    )
