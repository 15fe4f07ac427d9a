"""``run_server``: uvicorn around ``create_app``, with one or several worker processes.

Several workers need an import string, so the arguments travel to each worker through a
cloudpickled file named by an environment variable; metrics switch to Prometheus multiprocess
mode (a temporary ``PROMETHEUS_MULTIPROC_DIR``) so that ``/metrics`` of any worker aggregates.
Uvicorn handles SIGTERM gracefully: stop accepting, finish requests, run the app's shutdown.

With a gRPC port, ``with_grpc`` starts the gRPC front end inside the app's lifespan: on
uvicorn's event loop, over the app's own ``DataPlane``, after the app's start-up and stopped
(its calls drained) before the app's shutdown closes the data plane. Worker processes share
the gRPC port as they share the HTTP one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from modelyard.serving.admin.api import Loader
from modelyard.serving.options import ModelSource, ServerOptions
from modelyard.serving.rest.app import SERVER_VERSION, create_app

_ARGS_ENV = "MODELYARD_SERVING_ARGS"


def app_from_env() -> Any:
    """Factory each uvicorn worker calls: rebuild the app from the pickled arguments."""
    import cloudpickle

    with Path(os.environ[_ARGS_ENV]).open("rb") as fh:
        primary, options, loader, grpc_at = cloudpickle.load(fh)
    app = create_app(primary, options, loader)
    if grpc_at is not None:
        host, port = grpc_at
        with_grpc(app, host, port, shared_port=True)
    return app


def with_grpc(app: Starlette, host: str, port: int, shared_port: bool = False) -> Starlette:
    """Serve the app's data plane over gRPC on ``host:port`` too, for the app's lifetime.

    The bound port (a free one when ``port`` is 0) is ``app.state.grpc_port`` once started.
    """
    from modelyard.serving.grpc.server import start_grpc

    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(instance: Any) -> AsyncIterator[Any]:
        async with inner(instance) as state:
            plane = app.state.plane
            grpc_server = await start_grpc(
                plane, app.state.metrics, SERVER_VERSION, host, port, shared_port
            )
            app.state.grpc_port = grpc_server.port
            try:
                yield state
            finally:
                await grpc_server.stop(plane.options.drain_timeout)

    app.router.lifespan_context = lifespan
    return app


def run_server(
    primary: ModelSource,
    options: ServerOptions,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    loader: Loader | None = None,
    grpc_port: int | None = None,
) -> None:
    """Serve ``primary`` until SIGINT/SIGTERM (blocking); over gRPC too with ``grpc_port``."""
    import uvicorn

    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": False,
        # Nothing here reads the client address, and the Server header is noise: both cost
        # time on every request.
        "proxy_headers": False,
        "server_header": False,
        "timeout_graceful_shutdown": int(options.drain_timeout),
    }
    grpc_at = (host, grpc_port) if grpc_port is not None else None
    if workers <= 1:
        app = create_app(primary, options, loader)
        if grpc_at is not None:
            with_grpc(app, *grpc_at)
        uvicorn.run(app, **common)
        return
    import cloudpickle

    scratch = Path(tempfile.mkdtemp(prefix="modelyard-serving-"))
    metrics_dir = scratch / "metrics"
    metrics_dir.mkdir()
    args = scratch / "args.pkl"
    args.write_bytes(cloudpickle.dumps((primary, options, loader, grpc_at)))
    os.environ[_ARGS_ENV] = str(args)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    try:
        uvicorn.run(
            "modelyard.serving.process.server:app_from_env", factory=True, workers=workers, **common
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
