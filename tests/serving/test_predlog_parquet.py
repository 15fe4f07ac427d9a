"""The prediction log's own Parquet writer: files PyArrow reads as it wrote them, no PyArrow
in the writing process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from modelyard.serving.dataplane.parquet import Column, encode_table, write_table

# the schema PyArrow gave the log's files when PyArrow wrote them
LOG_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("model", pa.string()),
        ("version", pa.string()),
        ("role", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("latency_ms", pa.float64()),
        ("inputs", pa.string()),
        ("outputs", pa.string()),
    ]
)


@pytest.mark.parametrize("rows", [1, 14, 15, 3000])
def test_pyarrow_reads_back_every_value_with_the_old_schema(tmp_path: Path, rows: int) -> None:
    ids = [f"req-{i}-é✓" if i % 3 else "" for i in range(rows)]
    stamps = [1_764_000_000_000_000 + 1_000_003 * i for i in range(rows)]
    latencies = [i / 7 if i % 5 else -0.0 for i in range(rows)]
    inputs = [json.dumps([[i, 0.5, -1e300]]) for i in range(rows)]
    columns = [
        Column("request_id", "string", ids),
        Column("model", "string", ["ctr"] * rows),
        Column("version", "string", ["3"] * rows),
        Column("role", "string", ["primary"] * rows),
        Column("timestamp", "timestamp_us", stamps),
        Column("latency_ms", "double", latencies),
        Column("inputs", "string", inputs),
        Column("outputs", "string", ["[0.25]"] * rows),
    ]
    path = tmp_path / "part.parquet"
    write_table(path, columns)

    table = pq.read_table(path)
    assert table.schema.equals(LOG_SCHEMA)
    assert table.num_rows == rows
    assert table.column("request_id").to_pylist() == ids
    assert table.column("timestamp").cast("int64").to_pylist() == stamps
    assert table.column("latency_ms").to_pylist() == latencies
    assert table.column("inputs").to_pylist() == inputs
    assert table.column("model").null_count == 0


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="same number of values"):
        encode_table([Column("a", "string", ["x", "y"]), Column("b", "double", [1.0])])


WRITER = """
import sys, time
from pathlib import Path
import numpy as np
from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.dataplane.predlog import PredictionLog, PredictionRecord
from modelyard.serving.options import PredictionLogOptions
log = PredictionLog("ctr", PredictionLogOptions(directory=Path(sys.argv[1])), ServingMetrics())
log.start()
for i in range(50):
    log.record(PredictionRecord(f"r{i}", "1", "primary", 1_764_000_000.0 + i, 0.5,
                                np.array([[i, 1.0]]), np.array([[0.2, 0.8]])))
log.close()
print("pyarrow" in sys.modules)
"""


def test_the_log_is_written_without_loading_pyarrow(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
    table = ds.dataset(tmp_path / "model=ctr", format="parquet", partitioning="hive").to_table()
    rows = {r["request_id"]: r for r in table.to_pylist()}
    assert len(rows) == 50
    assert rows["r7"]["inputs"] == "[[7.0,1.0]]"
    assert rows["r7"]["outputs"] == "[[0.2,0.8]]"
    assert rows["r7"]["hour"] == 16  # 1_764_000_000 s is 2025-11-24 16:00 UTC
