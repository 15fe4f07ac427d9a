"""`dataset build` refuses Kafka sources it cannot use, naming the option, before reading."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelyard.cli.app import app


def _build(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``modelyard dataset build ctr ...`` run by the CLI's own app in this process: its exit
    code and its two streams."""
    argv = ["dataset", "build", "ctr", "--out", str(root / "train.parquet"), "-w", str(root)]
    result = CliRunner().invoke(app, [*argv, *args])
    return subprocess.CompletedProcess(argv, result.exit_code, result.stdout, result.stderr)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--outcomes", "kafka://outs"], "a kafka:// source needs a kafka section"),
        (["--outcomes", "kafka://"], "--outcomes 'kafka://': write kafka://TOPIC"),
        (
            ["--outcomes", "o.csv", "--predictions", "s3://bucket/preds"],
            "--predictions 's3://bucket/preds': write kafka://TOPIC",
        ),
    ],
)
def test_unusable_kafka_sources_are_refused(
    workspace_dir: Path, args: list[str], message: str
) -> None:
    done = _build(workspace_dir, *args)
    assert done.returncode == 2, done.stderr
    assert message in " ".join(done.stderr.split())
    assert not (workspace_dir / "train.parquet").exists()
    assert not (workspace_dir / ".modelyard" / "kafka-offsets").exists()
