"""Tracking: MLflow wiring for runs, params, metrics and the model registry.

``mlflow_adapter`` is the only module in modelyard that imports mlflow.
"""

from modelyard.tracking.mlflow_adapter import (
    LoggedModelRef,
    RunRecord,
    Tracking,
    TrackingError,
    TrackingRefused,
    VersionRecord,
    load_pyfunc,
    load_sklearn,
    save_onnx,
)
from modelyard.tracking.stores import StoreAccess

__all__ = [
    "LoggedModelRef",
    "RunRecord",
    "StoreAccess",
    "Tracking",
    "TrackingError",
    "TrackingRefused",
    "VersionRecord",
    "load_pyfunc",
    "load_sklearn",
    "save_onnx",
]
