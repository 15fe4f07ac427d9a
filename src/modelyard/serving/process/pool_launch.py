"""Start a pool server from the verified model cache: the spec of every model it may serve.

As ``launch`` does for one model: the resolving process (the CLI, the supervisor) fetches
each model's version into the verified cache and writes a ``PoolSpec``; the pool process reads
it and serves, loading each model from the cache (checksum verified) at its first request,
without MLflow. ``python -m modelyard.serving SPEC.json`` runs either kind of spec.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.errors import ConfigError, NotFound
from modelyard.serving.options import ModelSource, ServerOptions, WarmupRow
from modelyard.serving.process.launch import (
    LaunchSpec,
    _options,
    cache_loader,
    cached_source,
)


@dataclass(frozen=True)
class PoolMemberSpec:
    """One model of a pool: the version to serve and its own options."""

    model: str
    version: int
    options: ServerOptions = field(default_factory=ServerOptions)
    method: str = "predict"
    warmup_inputs: list[WarmupRow] | None = None
    warmup_requests: int = 3
    allow_pickle: bool = True
    pinned: bool = False


@dataclass(frozen=True)
class PoolSpec:
    """Everything a pool process needs."""

    cache_dir: Path
    pool: str
    memory_budget_bytes: int
    load_timeout_s: float
    models: list[PoolMemberSpec]
    admin_token: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    inference_threads: int = 4

    def launch_spec(self, member: PoolMemberSpec) -> LaunchSpec:
        """The one-model launch spec of ``member`` (for the cache's resolve and loader)."""
        return LaunchSpec(
            cache_dir=self.cache_dir,
            model=member.model,
            version=member.version,
            options=member.options,
            method=member.method,
            warmup_inputs=member.warmup_inputs,
            warmup_requests=member.warmup_requests,
            allow_pickle=member.allow_pickle,
        )


def write_pool_spec(spec: PoolSpec, path: Path) -> Path:
    """Write ``spec`` as JSON, readable by its owner only (it holds the admin token)."""
    from modelyard.serving.process.launch import write_spec

    return write_spec(spec, path)  # type: ignore[arg-type]  # any dataclass serialises alike


def is_pool_spec(body: dict[str, Any]) -> bool:
    return "pool" in body and "models" in body


def read_pool_spec(path: Path) -> PoolSpec:
    """The spec ``write_pool_spec`` wrote; a ``ConfigError`` naming the file if it is not one."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        members = [
            PoolMemberSpec(options=_options(m.pop("options")), **m) for m in body.pop("models")
        ]
        return PoolSpec(cache_dir=Path(body.pop("cache_dir")), models=members, **body)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a pool launch spec: {exc}") from exc


def _tensor_only(spec: PoolSpec) -> bool:
    """True when every model of the pool is one modelyard feeds arrays without pandas."""
    from modelyard.registry import cache
    from modelyard.serving.protocol.errors import ModelLoadError
    from modelyard.serving.protocol.signature import read_mlmodel

    for member in spec.models:
        try:
            path = cache.lookup(spec.cache_dir, member.model, member.version).path
            mlmodel = read_mlmodel(path)
        except (ModelLoadError, NotFound, OSError):
            return False
        if mlmodel.signature.columns is not None or not (
            {"sklearn", "onnx"} & set(mlmodel.flavors)
        ):
            return False
    return True


def serve_pool_cached(spec: PoolSpec) -> None:
    """Serve the pool until interrupted (SIGINT/SIGTERM)."""
    import logging
    from concurrent.futures import ThreadPoolExecutor

    import uvicorn

    from modelyard.serving.dataplane.metrics import ServingMetrics
    from modelyard.serving.pool.app import create_pool_app
    from modelyard.serving.pool.measure import freed_memory_releaser, process_rss
    from modelyard.serving.pool.pool import ModelPool, PoolModel
    from modelyard.serving.runtimes.imports import refuse_pandas

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if _tensor_only(spec):
        refuse_pandas()  # before scikit-learn is imported: see serving.runtimes.imports
    launches = {m.model: spec.launch_spec(m) for m in spec.models}

    def resolve(name: str) -> ModelSource:
        return cached_source(launches[name])

    def loader(name: str, version: str) -> ModelSource:
        launch = launches.get(name)
        if launch is None:
            raise LookupError(f"model {name!r} is not in pool {spec.pool!r}")
        return cache_loader(launch)(name, version)

    metrics = ServingMetrics()
    executor = ThreadPoolExecutor(spec.inference_threads, thread_name_prefix="infer")
    pool = ModelPool(
        spec.pool,
        [PoolModel(m.model, m.options, m.pinned) for m in spec.models],
        spec.memory_budget_bytes,
        spec.load_timeout_s,
        resolve,
        executor,
        metrics,
        rss=process_rss(),
        release=freed_memory_releaser(),
        loader=loader,
    )
    app = create_pool_app(pool, spec.admin_token)
    uvicorn.run(
        app,
        host=spec.host,
        port=spec.port,
        log_level="info",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=30,
    )
    executor.shutdown(wait=False, cancel_futures=True)
