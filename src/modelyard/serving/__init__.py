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
    from modelyard.serving.options import (
        BatchingOptions,
        BreakerOptions,
        ModelSource,
        PredictionLogOptions,
        RateLimitOptions,
        ServerOptions,
    )
    from modelyard.serving.process.server import run_server
    from modelyard.serving.protocol.signature import Signature, TensorSpec
    from modelyard.serving.rest.app import create_app
    from modelyard.serving.runtimes.base import ModelRuntime, Runtime
    from modelyard.serving.runtimes.registry import runtime_for

_WHERE = {
    "create_app": "rest.app",
    "ModelRuntime": "runtimes.base",
    "runtime_for": "runtimes.registry",
    "Runtime": "runtimes.base",
    "run_server": "process.server",
    "Signature": "protocol.signature",
    "TensorSpec": "protocol.signature",
    "BatchingOptions": "options",
    "BreakerOptions": "options",
    "ModelSource": "options",
    "PredictionLogOptions": "options",
    "RateLimitOptions": "options",
    "ServerOptions": "options",
}

__all__ = [
    "BatchingOptions",
    "BreakerOptions",
    "ModelRuntime",
    "ModelSource",
    "PredictionLogOptions",
    "RateLimitOptions",
    "Runtime",
    "ServerOptions",
    "Signature",
    "TensorSpec",
    "create_app",
    "run_server",
    "runtime_for",
]


__getattr__, __dir__ = lazy_names(__name__, _WHERE, __all__)
