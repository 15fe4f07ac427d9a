"""Datasets that cannot be used are refused with the file, the column and what was expected,
and nothing is recorded for the version."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelyard.config import Workspace
from modelyard.evaluation import DatasetError, evaluate_version, load_dataset
from modelyard.registry import Registry


def _table(rows: int = 20, features: int = 8, label: object = "ok") -> pa.Table:
    rng = np.random.default_rng(1)
    columns = {f"f{i}": rng.normal(size=rows) for i in range(features)}
    if label == "ok":
        columns["clicked"] = (rng.random(rows) < 0.3).astype(np.int64)
    elif label == "nan":
        values = (rng.random(rows) < 0.3).astype(np.float64)
        values[4] = np.nan
        columns["clicked"] = values
    return pa.table(columns)


CASES = [
    ("missing-label.parquet", _table(label=None), "clicked", "is missing", "the label column"),
    ("seven.parquet", _table(features=7), None, "has 7 feature columns", "8, as the model's"),
    ("empty.parquet", _table(rows=0), None, "has no rows", "at least one labelled row"),
    ("nan.parquet", _table(label="nan"), "clicked", "1 empty or NaN labels (row 4)", "0 or 1"),
]


@pytest.mark.parametrize(("name", "table", "column", "problem", "expected"), CASES)
def test_bad_dataset_is_refused_with_file_column_and_expectation(
    tmp_path: Path, name: str, table: pa.Table, column: str | None, problem: str, expected: str
) -> None:
    path = tmp_path / name
    pq.write_table(table, path)
    with pytest.raises(DatasetError) as caught:
        load_dataset(path, "clicked", expected_features=8)
    message = str(caught.value)
    assert str(path) in message
    assert problem in message
    assert f"expected {expected}" in message
    if column:
        assert f"column {column!r}" in message


def test_empty_csv_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DatasetError, match=r"empty\.csv: cannot be read.*expected a CSV file"):
        load_dataset(path, "clicked")


def test_a_bad_dataset_records_nothing(eval_ws: Workspace, eval_dir: Path) -> None:
    dataset = eval_dir / "models" / "ctr" / "eval.parquet"
    pq.write_table(_table(features=7), dataset)
    registry = Registry.for_workspace(eval_ws)
    before = registry.resolve("ctr", 1).tags
    with pytest.raises(DatasetError, match="expected 8, as the model's signature takes"):
        evaluate_version(eval_ws, "ctr", 1)
    assert registry.resolve("ctr", 1).tags == before
