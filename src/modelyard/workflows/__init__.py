"""Workflows: what the lifecycle does that is not a backend's business.

Training a model (run its script in an MLflow run, register what it logged; the one gate is
:func:`modelyard.evaluation.run_gate`) and serving one registered version in this process.
Both backends call them: the local backend runs them as processes here, the Kubernetes one
inside its pods.
"""

from modelyard.workflows.training import TrainResult, parse_params, train

__all__ = ["TrainResult", "parse_params", "train"]
