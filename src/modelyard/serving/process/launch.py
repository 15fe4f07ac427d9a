"""Start a model server from the verified model cache, with nothing but serving on its path.

The process that resolves a version (the CLI, the supervisor, a Kubernetes init step) talks
to the registry, fetches and verifies the artifacts once, and describes the server in a
``LaunchSpec``. The server process reads that spec, verifies the cached artifacts' checksum
again, and serves: it imports neither MLflow nor SQLAlchemy, and loads the other versions the
admin API asks for (canary, shadow) from the same cache, verified the same way.

Two ways in, one call each:

- in process: ``serve_cached(spec)`` (blocks until SIGINT/SIGTERM);
- as a child: ``write_spec(spec, path)`` then run ``command(path)``, which is
  ``python -m modelyard.serving SPEC.json``;
- in place of the current process: ``exec_server(spec, path)`` (for a CLI that imported
  MLflow to fetch the version).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.errors import ConfigError, NotFound
from modelyard.registry import cache
from modelyard.serving.options import (
    BatchingOptions,
    BreakerOptions,
    ModelSource,
    PredictionLogOptions,
    RateLimitOptions,
    ServerOptions,
    WarmupRow,
)
from modelyard.serving.protocol.limits import RequestLimits
from modelyard.streams import KafkaEndpoint

if TYPE_CHECKING:
    from modelyard.serving.admin.api import Loader


@dataclass(frozen=True)
class LaunchSpec:
    """Everything a server process needs: where the cache is, what to serve, how."""

    cache_dir: Path
    """The registry's verified model cache (``<state>/cache/models``)."""
    model: str
    version: int
    options: ServerOptions = field(default_factory=ServerOptions)
    method: str = "predict"
    warmup_inputs: list[WarmupRow] | None = None
    warmup_requests: int = 3
    allow_pickle: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    grpc_port: int | None = None
    """Also serve OIP v2 over gRPC on this port (same host, same data plane), when set."""


def cached_source(spec: LaunchSpec, version: int | None = None) -> ModelSource:
    """The ``ModelSource`` of a cached version (the spec's by default), checksum verified."""
    number = spec.version if version is None else version
    cached = cache.lookup(spec.cache_dir, spec.model, number)
    return ModelSource(
        name=spec.model,
        version=str(number),
        path=cached.verified(),
        method=spec.method,
        warmup_inputs=spec.warmup_inputs,
        warmup_requests=spec.warmup_requests,
        allow_pickle=spec.allow_pickle,
        fastload=CacheFastLoad(spec.cache_dir, cached) if spec.allow_pickle else None,
    )


@dataclass(frozen=True)
class CacheFastLoad:
    """The verified cache's fast-load copy of one version (see ``registry.cache``)."""

    cache_dir: Path
    cached: cache.CachedVersion

    def read(self, key: str) -> bytes | None:
        return self.cached.fastload_bytes(key)

    def write(self, key: str, data: bytes) -> None:
        cache.record_fastload(self.cached, self.cache_dir, key, data)


def cache_loader(spec: LaunchSpec) -> Loader:
    """What the admin API calls to load another version: the cache, verified, never MLflow."""

    def load(name: str, version: str) -> ModelSource:
        if name != spec.model:
            raise NotFound(f"this server serves {spec.model!r}, not {name!r}")
        if not version.isdigit():
            raise NotFound(f"version {version!r} of {name!r} is not a registry version number")
        return cached_source(spec, int(version))

    return load


def serve_cached(spec: LaunchSpec) -> None:
    """Serve ``spec`` until interrupted: the primary and every admin-loaded version come from
    the verified cache. Call it as a process's server (it may refuse pandas in the process)."""
    import logging

    from modelyard.serving.process.server import run_server
    from modelyard.serving.runtimes.imports import refuse_pandas_for

    # the server's own lines (the model is ready, or failed to load) reach stderr, whichever
    # way it started (``python -m modelyard.serving``, ``modelyard serve``); a no-op where the
    # process has configured logging already
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    source = cached_source(spec)
    refuse_pandas_for(source.path)  # before scikit-learn is imported: see serving.imports
    run_server(
        source,
        spec.options,
        host=spec.host,
        port=spec.port,
        workers=spec.workers,
        loader=cache_loader(spec),
        grpc_port=spec.grpc_port,
    )


def command(spec_path: Path) -> list[str]:
    """The command line of a server process for the spec written at ``spec_path``."""
    return [sys.executable, "-m", "modelyard.serving", str(spec_path)]


def exec_server(spec: LaunchSpec, spec_path: Path) -> None:
    """Replace this process with a lean server process for ``spec`` (same pid, so a
    supervisor's signals reach the server). Use it where this process has already imported
    MLflow to resolve the version: the server then starts without it."""
    argv = command(write_spec(spec, spec_path))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # noqa: S606 - our own interpreter and module, no shell


def write_spec(spec: LaunchSpec, path: Path) -> Path:
    """Write ``spec`` as JSON, readable by its owner only (it holds the admin token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(_plain(spec), handle, indent=1)
    staging.replace(path)
    return path


def read_spec(path: Path) -> LaunchSpec:
    """The spec written by ``write_spec``; a ``ConfigError`` naming the file if it is not one."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        options = body.pop("options")
        return LaunchSpec(
            cache_dir=Path(body.pop("cache_dir")),
            options=_options(options),
            **body,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a server launch spec: {exc}") from exc


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _options(body: dict[str, Any]) -> ServerOptions:
    log = dict(body.pop("prediction_log"))
    directory = log.pop("directory")
    kafka = log.pop("kafka", None)
    return ServerOptions(
        batching=BatchingOptions(**body.pop("batching")),
        rate_limit=RateLimitOptions(**body.pop("rate_limit")),
        breaker=BreakerOptions(**body.pop("breaker")),
        request_limits=RequestLimits(**body.pop("request_limits", {})),
        prediction_log=PredictionLogOptions(
            directory=Path(directory) if directory is not None else None,
            kafka=KafkaEndpoint(**kafka) if kafka is not None else None,
            **log,
        ),
        **body,
    )
