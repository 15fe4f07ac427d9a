"""Workflows: what the lifecycle does that is not a backend's business.

Training a model (run its script in an MLflow run, register what it logged; the one gate is
:func:`modelyard.evaluation.run_gate`), sweeping its hyperparameters as parallel trainings
under one parent run, and serving one registered version in this process.
Both backends call them: the local backend runs them as processes here, the Kubernetes one
inside its pods.

The names load on first use, so that ``modelyard.workflows.serve`` (the admin token, the
lean serving path) does not import the training workflow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.workflows.sweeps import SweepResult, Trial, sweep
    from modelyard.workflows.training import TrainResult, parse_params, train

__all__ = ["SweepResult", "TrainResult", "Trial", "parse_params", "sweep", "train"]

_HOMES = {"SweepResult": "sweeps", "Trial": "sweeps", "sweep": "sweeps"}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'modelyard.workflows' has no attribute {name!r}")
    home = _HOMES.get(name, "training")
    value = getattr(importlib.import_module(f"modelyard.workflows.{home}"), name)
    globals()[name] = value
    return value
