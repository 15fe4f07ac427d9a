"""Held-out evaluation by modelyard: datasets, metrics, evaluation of a registered version,
over- and underfitting checks, the gate against production, and training sets built from
the prediction log joined with outcomes."""

from modelyard.evaluation.dataset import DatasetError, EvalDataset, NoDataset, load_dataset
from modelyard.evaluation.evaluate import Evaluation, EvaluationFailed, evaluate_version
from modelyard.evaluation.fit import FitFinding, fit_findings
from modelyard.evaluation.gate import GateVerdict, compare, production_version, run_gate
from modelyard.evaluation.metrics import classification_metrics

__all__ = [
    "DatasetError",
    "EvalDataset",
    "Evaluation",
    "EvaluationFailed",
    "FitFinding",
    "GateVerdict",
    "NoDataset",
    "classification_metrics",
    "compare",
    "evaluate_version",
    "fit_findings",
    "load_dataset",
    "production_version",
    "run_gate",
]
