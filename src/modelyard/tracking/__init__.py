"""Tracking: MLflow wiring for runs, params, metrics and the model registry.

``mlflow_adapter`` is the only module in modelyard that imports mlflow.
"""

from modelyard.tracking.mlflow_adapter import (
    LoggedModelRef,
    RunRecord,
    Tracking,
    TrackingError,
    VersionRecord,
    load_pyfunc,
)

__all__ = [
    "LoggedModelRef",
    "RunRecord",
    "Tracking",
    "TrackingError",
    "VersionRecord",
    "load_pyfunc",
]
