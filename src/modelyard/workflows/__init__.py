"""Workflows: what the lifecycle does that is not a backend's business.

Training a model (run its script in an MLflow run, register what it logged, judge it with the
evaluation gate) and serving one registered version in this process. Both backends call them:
the local backend runs them as processes here, the Kubernetes one inside its pods.
"""

from modelyard.workflows.training import GateResult, TrainResult, check_gate, parse_params, train

__all__ = ["GateResult", "TrainResult", "check_gate", "parse_params", "train"]
