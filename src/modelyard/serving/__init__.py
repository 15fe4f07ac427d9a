"""The model server: OIP v2 and v1 protocols over framework runtimes, with batching, rate
limits, a circuit breaker, several versions (canary, shadow), metrics and a prediction log.

``create_app`` builds the ASGI app; ``run_server`` runs it under uvicorn.

The names load on first use (PEP 562), so that a process that only needs the admin client
or the launch spec (the CLI's steering commands, the supervisor) does not import Starlette,
uvicorn and numpy by importing this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelyard._lazy import lazy_names

if TYPE_CHECKING:
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

_WHERE = {
    "create_app": "app",
    "ModelRuntime": "runtime",
    "runtime_for": "runtime",
    "run_server": "server",
    "Signature": "signature",
    "TensorSpec": "signature",
    "BatchingOptions": "source",
    "BreakerOptions": "source",
    "ModelSource": "source",
    "PredictionLogOptions": "source",
    "RateLimitOptions": "source",
    "ServerOptions": "source",
}

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


__getattr__, __dir__ = lazy_names(__name__, _WHERE, __all__)
