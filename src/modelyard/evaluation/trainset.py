"""Training data from predictions: the server's prediction log joined with observed outcomes.

The log (``<state>/predictions/model=<id>/date=*/hour=*/*.parquet``) holds each answered
request's id, version, inputs and outputs; an outcomes file (CSV or Parquet with
``request_id``, ``outcome``, ``timestamp``) says what happened after. Joined on the request
id (the id the server echoes), each matched prediction becomes rows of features, the label,
the version that answered and its score, written as Parquet that a ``train.py`` reads with
PyArrow. Shadow answers are left out: they were never served.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.config import ModelEntry, Workspace
from modelyard.errors import ConfigError
from modelyard.evaluation.dataset import DatasetError, read_table
from modelyard.evaluation.topics import TopicRead, outcomes_table, read_messages
from modelyard.evaluation.topics import predictions_from as topic_predictions
from modelyard.streams import KafkaEndpoint, OffsetStore, topic_uri

OUTCOME_COLUMNS = ("request_id", "outcome", "timestamp")


@dataclass(frozen=True)
class BuildReport:
    """What ``dataset build`` joined and wrote."""

    out: Path
    rows: int
    """Rows written (one per input row of each matched request)."""
    matched_requests: int
    predictions_without_outcome: int
    outcomes_without_prediction: int
    log_files: int


def prediction_log_files(workspace: Workspace, model_id: str) -> list[Path]:
    root = workspace.state_dir / "predictions" / f"model={model_id}"
    return sorted(p for p in root.glob("date=*/hour=*/*.parquet") if not p.name.startswith("."))


def _predictions(files: list[Path], since_us: int | None) -> dict[str, dict[str, Any]]:
    import pyarrow.parquet as pq

    found: dict[str, dict[str, Any]] = {}
    for file in files:
        table = pq.read_table(file)
        stamps = table.column("timestamp").cast("int64").to_pylist()
        columns = zip(
            table.column("request_id").to_pylist(),
            table.column("role").to_pylist(),
            table.column("version").to_pylist(),
            stamps,
            table.column("inputs").to_pylist(),
            table.column("outputs").to_pylist(),
            strict=True,
        )
        for rid, role, version, stamp, inputs, outputs in columns:
            if role == "shadow" or (since_us is not None and stamp < since_us):
                continue
            found[rid] = {
                "version": version,
                "timestamp_us": stamp,
                "inputs": inputs,
                "outputs": outputs,
            }
    return found


def _outcomes(path: Path) -> dict[str, float]:
    return _latest_outcomes(read_table(path), path)


def _latest_outcomes(table: Any, path: Path | str) -> dict[str, float]:
    """request id -> outcome; of several outcomes for one request the latest counts."""
    for column in OUTCOME_COLUMNS:
        if column not in table.column_names:
            raise DatasetError(path, column, "is missing", "columns request_id, outcome, timestamp")
    if table.num_rows == 0:
        raise DatasetError(path, None, "has no rows", "at least one outcome")
    outcomes = _outcome_values(path, table.column("outcome").to_pylist())
    stamps = table.column("timestamp").cast("string").to_pylist()
    ids = [str(rid) for rid in table.column("request_id").to_pylist()]
    latest: dict[str, tuple[str, float]] = {}
    for rid, outcome, stamp in zip(ids, outcomes, stamps, strict=True):
        if rid not in latest or str(stamp) >= latest[rid][0]:
            latest[rid] = (str(stamp), outcome)
    return {rid: outcome for rid, (_, outcome) in latest.items()}


def _outcome_values(path: Path | str, values: list[Any]) -> list[float]:
    """Each row's outcome as a finite number, or a :class:`DatasetError` naming the first bad
    row (counted from 0, as the evaluation dataset's checks count)."""
    numbers: list[float] = []
    for row, value in enumerate(values):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            shown = "empty" if value is None or value == "" else repr(value)
            raise DatasetError(
                path, "outcome", f"row {row} is {shown}", "a finite number per row (0 or 1)"
            )
        numbers.append(number)
    return numbers


def _score(row: Any) -> float:
    values = row if isinstance(row, list) else [row]
    return float(values[-1])


def offsets_path(workspace: Workspace, model_id: str, out: Path) -> Path:
    """Where a dataset's Kafka offsets are kept: one file per model and output file name."""
    return workspace.state_dir / "kafka-offsets" / f"model={model_id}" / f"{out.name}.json"


def _kafka(workspace: Workspace) -> KafkaEndpoint:
    settings = workspace.settings.kafka
    if settings is None:
        raise ConfigError(
            f"{workspace.root / 'modelyard.yaml'}: a kafka:// source needs a kafka section "
            "(kafka: {bootstrap_servers: host:port})"
        )
    return KafkaEndpoint.from_settings(settings)


def build_training_set(
    workspace: Workspace,
    entry: ModelEntry,
    outcomes: Path | str,
    out: Path,
    since: float | None = None,
    predictions_from: str | None = None,
    from_start: bool = False,
) -> BuildReport:
    """Join the model's predictions with ``outcomes`` into Parquet at ``out``.

    Predictions come from the Parquet log, plus the topic of ``predictions_from``
    (``kafka://TOPIC``) when given (records the Kafka sink spilled are in the Parquet log);
    ``outcomes`` is a file or ``kafka://TOPIC``. Topics are read from where this dataset's
    last build stopped (all of them with ``from_start``); the offsets move on only once
    ``out`` is written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    since_us = None if since is None else int(since * 1e6)
    in_topic, out_topic = (
        None if predictions_from is None else topic_uri(predictions_from),
        topic_uri(str(outcomes)),
    )
    if predictions_from is not None and not in_topic:
        raise ConfigError(f"--predictions {predictions_from!r}: write kafka://TOPIC")
    if out_topic == "":
        raise ConfigError(f"--outcomes {outcomes!r}: write kafka://TOPIC or a file path")
    store = OffsetStore(offsets_path(workspace, entry.id, out))
    stored = {} if from_start else store.load()
    reads: list[TopicRead] = []
    files = prediction_log_files(workspace, entry.id)
    if out_topic is not None:
        read = read_messages(_kafka(workspace), out_topic, stored.get(out_topic, {}))
        reads.append(read)
        observed = _latest_outcomes(outcomes_table(read), f"kafka://{out_topic}")
    else:
        observed = _outcomes(Path(outcomes))
    predictions = _predictions(files, since_us)
    if in_topic is not None:
        read = read_messages(_kafka(workspace), in_topic, stored.get(in_topic, {}))
        reads.append(read)
        predictions.update(topic_predictions(read, entry.id, since_us))
    matched = sorted(set(predictions) & set(observed))
    features: list[list[float]] = []
    meta: dict[str, list[Any]] = {k: [] for k in ("request_id", "version", "score", "label")}
    stamps: list[int] = []
    for rid in matched:
        record = predictions[rid]
        rows, answers = json.loads(record["inputs"]), json.loads(record["outputs"])
        for row, answer in zip(rows, answers, strict=True):
            features.append([float(v) for v in row])
            meta["request_id"].append(rid)
            meta["version"].append(record["version"])
            meta["score"].append(_score(answer))
            meta["label"].append(observed[rid])
            stamps.append(record["timestamp_us"])
    width = len(features[0]) if features else len(entry.spec.evaluation.features or [])
    names = list(entry.spec.evaluation.features or [f"f{i}" for i in range(width)])
    matrix = np.asarray(features, dtype=np.float64).reshape(len(features), width)
    columns: dict[str, Any] = {name: matrix[:, i] for i, name in enumerate(names)}
    columns[entry.spec.evaluation.label] = pa.array(meta["label"], pa.float64())
    columns["request_id"] = pa.array(meta["request_id"], pa.string())
    columns["version"] = pa.array(meta["version"], pa.string())
    columns["score"] = pa.array(meta["score"], pa.float64())
    columns["timestamp"] = pa.array(stamps, pa.timestamp("us", tz="UTC"))
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.tmp")
    pq.write_table(pa.table(columns), staging)
    staging.replace(out)
    if reads:
        store.save({**stored, **{read.topic: read.next_offsets for read in reads}})
    return BuildReport(
        out=out,
        rows=len(features),
        matched_requests=len(matched),
        predictions_without_outcome=len(set(predictions) - set(observed)),
        outcomes_without_prediction=len(set(observed) - set(predictions)),
        log_files=len(files),
    )
