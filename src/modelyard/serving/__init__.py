"""The model server: OIP v2 and v1 protocols over framework runtimes, with batching, rate
limits, a circuit breaker, several versions (canary, shadow), metrics and a prediction log.

``create_app`` builds the ASGI app; ``run_server`` runs it under uvicorn.
"""

from __future__ import annotations

from modelyard.serving.app import create_app
from modelyard.serving.runtime import ModelRuntime, runtime_for
from modelyard.serving.server import run_server
from modelyard.serving.signature import Signature, TensorSpec
from modelyard.serving.source import (
    BatchingOptions,
    BreakerOptions,
    ModelSource,
    PredictionLogOptions,
    RateLimitOptions,
    ServerOptions,
)

__all__ = [
    "BatchingOptions",
    "BreakerOptions",
    "ModelRuntime",
    "ModelSource",
    "PredictionLogOptions",
    "RateLimitOptions",
    "ServerOptions",
    "Signature",
    "TensorSpec",
    "create_app",
    "run_server",
    "runtime_for",
]
