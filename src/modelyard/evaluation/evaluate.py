"""Held-out evaluation of one registered version, by modelyard rather than by the script.

The version is fetched (checksum verified) and loaded through the same runtime the server
uses; it predicts the whole evaluation dataset, and a sample of rows one at a time for the
single-row latency. The figures go to the version's MLflow run as ``eval_*`` metrics and to
the version's tags (``modelyard.eval.*``), where ``modelyard versions`` shows them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modelyard.config import Workspace
from modelyard.errors import ModelyardError, TaskFailed
from modelyard.evaluation.dataset import (
    EvalDataset,
    check_feature_count,
    dataset_path,
    load_dataset,
)
from modelyard.evaluation.fit import FitFinding, fit_findings
from modelyard.evaluation.metrics import classification_metrics, prefixed, timing
from modelyard.registry import ModelVersion, Registry
from modelyard.serving.runtimes.base import ModelRuntime
from modelyard.serving.runtimes.registry import runtime_for

EVAL_TAG_PREFIX = "modelyard.eval."
BATCH_ROWS = 4096


class EvaluationFailed(TaskFailed):
    """The version could not be evaluated: it failed to load or to predict, or its answers
    are not probabilities."""


@dataclass(frozen=True)
class Evaluation:
    """A version's figures on the evaluation dataset."""

    model_id: str
    version: int
    dataset: str
    dataset_sha256: str
    metrics: Mapping[str, float]
    """loss, auc, ece, click_rate_ratio, accuracy, recall, base_rate, base_loss, rows,
    p50_ms, p90_ms, p99_ms (see docs/evaluation.md)."""
    threshold: float
    findings: tuple[FitFinding, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model_id,
            "version": self.version,
            "dataset": self.dataset,
            "dataset_sha256": self.dataset_sha256,
            "threshold": self.threshold,
            "metrics": dict(self.metrics),
            "findings": [
                {"kind": f.kind, "metric": f.metric, "message": f.message} for f in self.findings
            ],
        }


def positive_scores(output: np.ndarray, rows: int) -> np.ndarray:
    """The positive class's probability from a runtime's answer (N, N x 1 or N x 2)."""
    answer = np.asarray(output, dtype=np.float64)
    if answer.ndim == 2 and answer.shape[1] in (1, 2):
        answer = answer[:, -1]
    if answer.ndim != 1 or answer.shape[0] != rows:
        raise EvaluationFailed(
            f"the model answered shape {list(np.shape(output))} for {rows} rows; expected one "
            "probability per row (or two columns, as predict_proba gives)"
        )
    if np.isnan(answer).any() or answer.min() < 0 or answer.max() > 1:
        raise EvaluationFailed(
            "the model's answers are not probabilities in [0, 1]; set serving.method: "
            "predict_proba in model.yaml for a classifier"
        )
    return answer


def predict_all(runtime: ModelRuntime, features: np.ndarray) -> np.ndarray:
    """The positive-class scores of every row, predicted in batches."""
    parts = [
        positive_scores(runtime.predict(features[start : start + BATCH_ROWS]), len(chunk))
        for start in range(0, len(features), BATCH_ROWS)
        if len(chunk := features[start : start + BATCH_ROWS])
    ]
    return np.concatenate(parts)


def single_row_durations(
    runtime: ModelRuntime, features: np.ndarray, count: int, timer: Callable[[], float]
) -> list[float]:
    """Seconds each of the first ``count`` rows took, predicted alone (after one warm-up)."""
    runtime.predict(features[:1])
    durations = []
    for row in features[: max(1, count)]:
        start = timer()
        runtime.predict(row.reshape(1, -1))
        durations.append(timer() - start)
    return durations


def _load(path: Path, method: str) -> ModelRuntime:
    try:
        runtime = runtime_for(path, method)
        runtime.load(path)
    except ModelyardError as exc:
        raise EvaluationFailed(f"cannot load the model: {exc}") from exc
    return runtime


def evaluate_version(
    workspace: Workspace,
    model_id: str,
    version: int | None = None,
    alias: str | None = None,
    *,
    dataset: EvalDataset | None = None,
    record: bool = True,
    timer: Callable[[], float] = time.perf_counter,
) -> Evaluation:
    """Evaluate a registered version (the newest by default) on the model's dataset.

    ``dataset`` reuses one already loaded (the gate evaluates two versions on the same one);
    ``record`` writes the figures to the version's run and tags.
    """
    entry = workspace.model(model_id)
    config = entry.spec.evaluation
    registry = Registry.for_workspace(workspace)
    fetched = registry.fetch(model_id, version, alias)
    runtime = _load(fetched.path, entry.spec.serving.method)
    try:
        data = dataset or load_dataset(
            dataset_path(workspace, entry),
            config.label,
            config.features,
            runtime.signature.features,
        )
        check_feature_count(data, runtime.signature.features)
        try:
            scores = predict_all(runtime, data.features)
            durations = single_row_durations(runtime, data.features, config.timing_rows, timer)
        except EvaluationFailed:
            raise
        except ModelyardError as exc:
            raise EvaluationFailed(f"the model failed to predict: {exc}") from exc
    finally:
        runtime.unload()
    metrics = classification_metrics(data.labels, scores, config.threshold)
    latency = timing(durations)
    metrics |= {"p50_ms": latency.p50_ms, "p90_ms": latency.p90_ms, "p99_ms": latency.p99_ms}
    mv = fetched.version
    train_metrics = registry.tracking.get_run(mv.run_id).metrics if mv.run_id else {}
    found = fit_findings(train_metrics, metrics, config.fit_tolerance)
    result = Evaluation(
        model_id=model_id,
        version=mv.version,
        dataset=str(data.path),
        dataset_sha256=data.sha256,
        metrics=metrics,
        threshold=config.threshold,
        findings=tuple(found),
    )
    if record:
        record_evaluation(registry, mv, result)
    return result


def record_evaluation(registry: Registry, mv: ModelVersion, result: Evaluation) -> None:
    """The figures as ``eval_*`` metrics on the version's run, and as version tags."""
    if mv.run_id:
        registry.tracking.log_metrics(mv.run_id, prefixed(result.metrics))
    tags = {f"{EVAL_TAG_PREFIX}{k}": f"{v:.6g}" for k, v in result.metrics.items()}
    tags[f"{EVAL_TAG_PREFIX}dataset"] = result.dataset
    tags[f"{EVAL_TAG_PREFIX}dataset_sha256"] = result.dataset_sha256
    tags[f"{EVAL_TAG_PREFIX}fit"] = "; ".join(f.message for f in result.findings) or "ok"
    registry.tracking.set_version_tags(mv.name, mv.version, tags)


def evaluation_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """A version's recorded evaluation, from its tags: ``{'auc': '0.83', ...}``."""
    return {
        key.removeprefix(EVAL_TAG_PREFIX): value
        for key, value in tags.items()
        if key.startswith(EVAL_TAG_PREFIX)
    }
