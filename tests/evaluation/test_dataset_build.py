"""`modelyard dataset build`: the prediction log of served requests joined with outcomes."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest

from modelyard.backends.local.process import ServerProcess

SERVED = 12
WITH_OUTCOME = 8


def _serve_requests(root: Path) -> dict[str, tuple[list[float], float]]:
    """Serve ``SERVED`` one-row requests with known ids; id -> (row, score answered)."""
    rows = np.random.default_rng(9).normal(size=(SERVED, 8))
    answered: dict[str, tuple[list[float], float]] = {}
    # leaving the block stops the server, which flushes the prediction log
    with (
        ServerProcess(root, "ctr", version=1).running() as proc,
        httpx.Client(base_url=proc.url, timeout=30) as client,
    ):
        for i, row in enumerate(rows):
            reply = client.post(
                "/v1/models/ctr:predict",
                json={"instances": [row.tolist()]},
                headers={"x-request-id": f"req-{i}"},
            )
            assert reply.headers["x-request-id"] == f"req-{i}"
            answered[f"req-{i}"] = (row.tolist(), reply.json()["predictions"][0][1])
    return answered


def _build(root: Path, outcomes: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "modelyard",
            "dataset",
            "build",
            "ctr",
            "--outcomes",
            str(outcomes),
            "--out",
            str(out),
            "--json",
            "-w",
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_build_keeps_exactly_the_matched_rows(eval_dir: Path, tmp_path: Path) -> None:
    # the copied workspace may hold the log of requests other tests served: start without it
    shutil.rmtree(eval_dir / ".modelyard" / "predictions", ignore_errors=True)
    answered = _serve_requests(eval_dir)
    outcomes = tmp_path / "outcomes.csv"
    with outcomes.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["request_id", "outcome", "timestamp"])
        for i in range(WITH_OUTCOME):
            writer.writerow([f"req-{i}", i % 2, "2026-12-01T10:00:00"])
        writer.writerow(["ghost-1", 1, "2026-12-01T10:00:00"])
        writer.writerow(["ghost-2", 0, "2026-12-01T10:00:00"])
    out = tmp_path / "train.parquet"
    done = _build(eval_dir, outcomes, out)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["rows"] == WITH_OUTCOME
    assert report["matched_requests"] == WITH_OUTCOME
    assert report["predictions_without_outcome"] == SERVED - WITH_OUTCOME
    assert report["outcomes_without_prediction"] == 2
    table = pq.read_table(out).to_pylist()
    assert sorted(r["request_id"] for r in table) == sorted(f"req-{i}" for i in range(8))
    for record in table:
        row, score = answered[record["request_id"]]
        assert [record[f"f{i}"] for i in range(8)] == pytest.approx(row, abs=1e-12)
        assert record["score"] == pytest.approx(score, abs=1e-12)
        assert record["version"] == "1"
        assert record["clicked"] == int(record["request_id"].split("-")[1]) % 2


def test_outcomes_without_a_column_are_refused(eval_dir: Path, tmp_path: Path) -> None:
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("request_id,timestamp\nreq-1,2026-12-01\n")
    out = tmp_path / "train.parquet"
    done = _build(eval_dir, outcomes, out)
    assert done.returncode == 2
    assert f"{outcomes}: column 'outcome' is missing" in " ".join(done.stderr.split())
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "row", "value"),
    [
        ("request_id,outcome,timestamp\nreq-0,1,t\nreq-1,0,t\nreq-2,yes,t\n", 2, "'yes'"),
        ("request_id,outcome,timestamp\nreq-0,,t\nreq-1,0,t\n", 0, "empty"),
        ("request_id,outcome,timestamp\nreq-0,1,t\nreq-1,inf,t\n", 1, "inf"),
    ],
)
def test_garbage_outcomes_are_exit_2_with_file_column_and_row(
    eval_dir: Path, tmp_path: Path, content: str, row: int, value: str
) -> None:
    # issue 20: a non-number outcome was an "unexpected ValueError" (exit 1, a traceback)
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text(content)
    out = tmp_path / "train.parquet"
    done = _build(eval_dir, outcomes, out)
    message = " ".join(done.stderr.split())
    assert done.returncode == 2, done.stderr
    assert f"{outcomes}: column 'outcome'" in message
    assert f"row {row}" in message
    assert value in message
    assert "unexpected" not in message
    assert not out.exists()


def test_no_match_at_all_warns_how_ids_are_made(eval_dir: Path, tmp_path: Path) -> None:
    # issue 20: a caller who sent only the OIP `id` got zero rows and no word about it
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("request_id,outcome,timestamp\nnever-served,1,t\n")
    done = _build(eval_dir, outcomes, tmp_path / "train.parquet")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["matched_requests"] == 0
    assert "x-request-id" in report["warning"]
    assert "OIP body's id" in report["warning"]
