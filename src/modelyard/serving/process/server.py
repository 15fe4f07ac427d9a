"""``run_server``: uvicorn around ``create_app``, with one or several worker processes.

Several workers need an import string, so the arguments travel to each worker through a
cloudpickled file named by an environment variable; metrics switch to Prometheus multiprocess
mode (a temporary ``PROMETHEUS_MULTIPROC_DIR``) so that ``/metrics`` of any worker aggregates.
Uvicorn handles SIGTERM gracefully: stop accepting, finish requests, run the app's shutdown.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from modelyard.serving.admin.api import Loader
from modelyard.serving.options import ModelSource, ServerOptions
from modelyard.serving.rest.app import create_app

_ARGS_ENV = "MODELYARD_SERVING_ARGS"


def app_from_env() -> Any:
    """Factory each uvicorn worker calls: rebuild the app from the pickled arguments."""
    import cloudpickle

    with Path(os.environ[_ARGS_ENV]).open("rb") as fh:
        primary, options, loader = cloudpickle.load(fh)
    return create_app(primary, options, loader)


def run_server(
    primary: ModelSource,
    options: ServerOptions,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    loader: Loader | None = None,
) -> None:
    """Serve ``primary`` until SIGINT/SIGTERM (blocking)."""
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
    if workers <= 1:
        uvicorn.run(create_app(primary, options, loader), **common)
        return
    import cloudpickle

    scratch = Path(tempfile.mkdtemp(prefix="modelyard-serving-"))
    metrics_dir = scratch / "metrics"
    metrics_dir.mkdir()
    args = scratch / "args.pkl"
    args.write_bytes(cloudpickle.dumps((primary, options, loader)))
    os.environ[_ARGS_ENV] = str(args)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    try:
        uvicorn.run(
            "modelyard.serving.process.server:app_from_env", factory=True, workers=workers, **common
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
