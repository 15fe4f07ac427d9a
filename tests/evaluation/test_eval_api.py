"""The public parts of ``modelyard.evaluation`` and ``modelyard.pipelines`` are pinned."""

from __future__ import annotations

import modelyard.evaluation
import modelyard.pipelines


def test_evaluation_api() -> None:
    assert {"evaluate_version", "run_gate", "compare", "load_dataset", "GateVerdict"} <= set(
        modelyard.evaluation.__all__
    )
    for name in modelyard.evaluation.__all__:
        assert hasattr(modelyard.evaluation, name)


def test_pipelines_api() -> None:
    assert {"run_pipeline", "run_step", "Scheduler", "run_due_pipelines", "export_airflow"} <= set(
        modelyard.pipelines.__all__
    )
    for name in modelyard.pipelines.__all__:
        assert hasattr(modelyard.pipelines, name)
