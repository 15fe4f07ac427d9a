"""`modelyard evaluate` against the served model: the figures are the served answers'."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import log_loss, roc_auc_score
from typer.testing import CliRunner

from modelyard.backends.local.process import ServerProcess
from modelyard.cli.app import app
from modelyard.config import load_workspace
from modelyard.registry import Registry

METRICS = {
    "loss",
    "auc",
    "ece",
    "click_rate_ratio",
    "accuracy",
    "recall",
    "p50_ms",
    "p90_ms",
    "p99_ms",
}


@pytest.fixture(scope="module")
def evaluated(eval_base_dir: Path) -> dict[str, object]:
    # the CLI's own app in this process: its exit code and its JSON, as a shell would see them
    argv = ["evaluate", "ctr", "--version", "1", "--json", "-w", str(eval_base_dir)]
    out = CliRunner().invoke(app, argv)
    assert out.exit_code == 0, out.output
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.fixture(scope="module")
def server(eval_base_dir: Path) -> Iterator[ServerProcess]:
    with ServerProcess(eval_base_dir, "ctr", version=1).running() as proc:
        yield proc


def test_evaluate_prints_every_metric(evaluated: dict[str, object]) -> None:
    metrics = evaluated["metrics"]
    assert isinstance(metrics, dict)
    assert set(metrics) >= METRICS
    assert metrics["rows"] == 5000
    assert 0.75 < metrics["auc"] < 0.95
    assert 0 < metrics["p50_ms"] <= metrics["p90_ms"] <= metrics["p99_ms"]
    assert evaluated["findings"] == []


def test_auc_and_loss_equal_scikit_learn_on_the_served_answers(
    evaluated: dict[str, object], server: ServerProcess, eval_base_dir: Path
) -> None:
    table = pq.read_table(eval_base_dir / "models" / "ctr" / "eval.parquet")
    labels = np.asarray(table.column("clicked"))
    rows = np.column_stack([np.asarray(table.column(f"f{i}")) for i in range(8)])
    answers = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for start in range(0, len(rows), 500):
            reply = client.post(
                "/v1/models/ctr:predict", json={"instances": rows[start : start + 500].tolist()}
            )
            assert reply.status_code == 200
            answers.extend(p[1] for p in reply.json()["predictions"])
    metrics = evaluated["metrics"]
    assert isinstance(metrics, dict)
    assert abs(metrics["auc"] - roc_auc_score(labels, answers)) < 1e-9
    assert abs(metrics["loss"] - log_loss(labels, answers)) < 1e-9


def test_figures_land_on_the_run_and_the_version(
    evaluated: dict[str, object], eval_base_dir: Path
) -> None:
    registry = Registry.for_workspace(load_workspace(eval_base_dir))
    version = registry.resolve("ctr", 1)
    assert version.run_id is not None
    run = registry.tracking.get_run(version.run_id)
    metrics = evaluated["metrics"]
    assert isinstance(metrics, dict)
    assert run.metrics["eval_auc"] == pytest.approx(metrics["auc"])
    assert version.tags["modelyard.eval.dataset_sha256"] == evaluated["dataset_sha256"]
    listed = CliRunner().invoke(app, ["versions", "ctr", "--json", "-w", str(eval_base_dir)])
    assert listed.exit_code == 0, listed.output
    row = next(r for r in json.loads(listed.stdout) if r["version"] == 1)
    assert float(row["evaluation"]["auc"]) == pytest.approx(metrics["auc"], abs=1e-5)
