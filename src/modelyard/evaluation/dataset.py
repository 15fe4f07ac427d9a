"""Evaluation datasets: find the file ``evaluation.dataset`` names, read it (Parquet or CSV,
with PyArrow), check it against what the model takes, and checksum it.

A dataset that cannot be used is refused with :class:`DatasetError`, naming the file, the
column and what was expected; nothing is recorded for it.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.config import ModelEntry, Workspace
from modelyard.errors import ConfigError, NotFound

FORMATS = (".parquet", ".pq", ".csv")


class DatasetError(ConfigError):
    """A dataset file cannot be used as it is; the message names the file and the column."""

    def __init__(self, path: Path | str, column: str | None, problem: str, expected: str) -> None:
        where = f"{path}: column {column!r} " if column else f"{path}: "
        super().__init__(f"{where}{problem}; expected {expected}")
        self.path = str(path)
        self.column = column
        self.expected = expected


class NoDataset(NotFound):
    """The model names no evaluation dataset, or the file is not there."""


@dataclass(frozen=True)
class EvalDataset:
    """A checked evaluation dataset: features (rows by columns, float64) and 0/1 labels."""

    path: Path
    sha256: str
    features: np.ndarray
    labels: np.ndarray
    feature_columns: tuple[str, ...]
    label_column: str

    @property
    def rows(self) -> int:
        return int(self.labels.size)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dataset_path(workspace: Workspace, entry: ModelEntry, scratch: Path | None = None) -> Path:
    """The local file of the model's ``evaluation.dataset``.

    A relative path is looked up in the model's folder, then in the workspace; a URI
    (``s3://``, ``mlflow-artifacts:/``...) is copied from the artifact store into ``scratch``.
    """
    named = entry.spec.evaluation.dataset
    if named is None:
        raise NoDataset(
            f"{entry.dir / 'model.yaml'}: evaluation.dataset is not set; name a Parquet or "
            "CSV file with the feature columns and a label column"
        )
    if "://" in named or named.startswith("mlflow-artifacts:"):
        from modelyard.registry import Registry

        target = scratch or Path(tempfile.mkdtemp(prefix="modelyard-eval-"))
        return Registry.for_workspace(workspace).tracking.download(named, target)
    # config refuses '..' and absolute paths: the file is the model's or the workspace's
    candidates = [entry.dir / named, workspace.root / named]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise NoDataset(
        f"{entry.dir / 'model.yaml'}: evaluation.dataset {named!r} does not exist "
        f"(looked in {', '.join(str(c.parent) for c in candidates)})"
    )


def read_table(path: Path) -> Any:
    """A PyArrow table of a Parquet or CSV file."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DatasetError(path, None, f"unknown file type {suffix!r}", "a .parquet or .csv file")
    import pyarrow as pa

    try:
        if suffix == ".csv":
            import pyarrow.csv as pacsv

            return pacsv.read_csv(path)
        import pyarrow.parquet as pq

        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        kind = "CSV" if suffix == ".csv" else "Parquet"
        raise DatasetError(path, None, f"cannot be read: {exc}", f"a {kind} file") from exc


def _numeric(path: Path, table: Any, name: str) -> np.ndarray:
    import pyarrow as pa

    column = table.column(name)
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)) and not (
        pa.types.is_boolean(column.type)
    ):
        raise DatasetError(path, name, f"holds {column.type} values", "numbers")
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def _check_count(path: Path, columns: Sequence[str], expected: int | None) -> None:
    if expected is not None and len(columns) != expected:
        raise DatasetError(
            path,
            None,
            f"has {len(columns)} feature columns ({', '.join(columns)})",
            f"{expected}, as the model's signature takes",
        )


def check_feature_count(data: EvalDataset, expected: int | None) -> None:
    """Refuse a loaded dataset whose feature count differs from the model's signature."""
    _check_count(data.path, data.feature_columns, expected)


def load_dataset(
    path: Path,
    label: str,
    features: Sequence[str] | None = None,
    expected_features: int | None = None,
) -> EvalDataset:
    """Read and check ``path``: a label column of 0/1 and the model's feature columns."""
    table = read_table(path)
    names = list(table.column_names)
    if table.num_rows == 0:
        raise DatasetError(path, None, "has no rows", "at least one labelled row")
    if label not in names:
        raise DatasetError(
            path, label, f"is missing (columns: {', '.join(names)})", "the label column"
        )
    chosen = list(features) if features is not None else [n for n in names if n != label]
    missing = [name for name in chosen if name not in names]
    if missing:
        raise DatasetError(path, missing[0], "is missing", "every column in evaluation.features")
    _check_count(path, chosen, expected_features)
    labels = _numeric(path, table, label)
    bad = np.flatnonzero(np.isnan(labels))
    if bad.size:
        raise DatasetError(
            path, label, f"has {bad.size} empty or NaN labels (row {bad[0]})", "0 or 1"
        )
    if not np.isin(labels, (0.0, 1.0)).all():
        odd = labels[~np.isin(labels, (0.0, 1.0))][0]
        raise DatasetError(path, label, f"holds {odd:g}", "0 or 1 (a binary outcome)")
    matrix = np.column_stack([_numeric(path, table, name) for name in chosen])
    if np.isnan(matrix).any():
        row, col = np.argwhere(np.isnan(matrix))[0]
        raise DatasetError(path, chosen[col], f"has a NaN or empty value (row {row})", "numbers")
    return EvalDataset(
        path=path,
        sha256=file_sha256(path),
        features=matrix,
        labels=labels.astype(np.int64),
        feature_columns=tuple(chosen),
        label_column=label,
    )
