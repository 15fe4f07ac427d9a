"""The serving workflow: resolve a registered version, then serve it from the verified cache.

The server only ever loads what the registry fetched and verified into the model cache
(``modelyard.registry.cache``), and the admin API's loader reads the same cache, verified the
same way. A version the cache index already records is served without touching MLflow at
all (no Registry, no Tracking, no mlflow import); anything else (an alias, the newest
version, a version not fetched yet) is resolved and fetched through the registry. Then this
process is replaced by the lean server process (``python -m modelyard.serving SPEC.json``),
so the serving process holds neither MLflow nor the CLI.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from modelyard.errors import ConfigError
from modelyard.registry import cache

if TYPE_CHECKING:
    from modelyard.config import ModelEntry, Workspace
    from modelyard.serving.options import ServerOptions
    from modelyard.serving.process.launch import LaunchSpec

TOKEN_ENV = "MODELYARD_ADMIN_TOKEN"  # noqa: S105 - the name of a variable, not a secret
TOKEN_FILE_ENV = "MODELYARD_ADMIN_TOKEN_FILE"  # noqa: S105 - the name of a variable
"""Names a file holding the token (a mounted Secret key): every replica shares one."""


def admin_token(workspace: Workspace) -> str:
    """The admin API token: the file ``$MODELYARD_ADMIN_TOKEN_FILE`` names, else
    ``$MODELYARD_ADMIN_TOKEN``, else one kept in the state folder."""
    token_file = os.environ.get(TOKEN_FILE_ENV)
    if token_file:
        return _token_from_file(Path(token_file))
    from_env = os.environ.get(TOKEN_ENV)
    if from_env:
        return from_env
    path = workspace.state_dir / "admin-token"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    staging = path.with_suffix(".tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token)
    staging.replace(path)
    return token


def _token_from_file(path: Path) -> str:
    from modelyard.errors import ConfigError

    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"{TOKEN_FILE_ENV}={path}: cannot read the admin token ({exc.strerror}); on "
            "Kubernetes, add the key admin-token to the modelyard-credentials secret"
        ) from exc
    if not token:
        raise ConfigError(f"{TOKEN_FILE_ENV}={path}: the admin token file is empty")
    return token


def options_for(workspace: Workspace, entry: ModelEntry) -> ServerOptions:
    """The server's options from the model's ``deploy.yaml`` and the workspace."""
    from modelyard.serving.options import ServerOptions
    from modelyard.streams import KafkaEndpoint

    log_dir: Path | None = None
    if entry.deploy.prediction_log.enabled:
        log_dir = workspace.state_dir / "predictions"
    kafka = workspace.settings.kafka
    wants_kafka = entry.deploy.prediction_log.sink == "kafka" or (
        entry.deploy.prediction_log.outcomes_topic is not None
    )
    if wants_kafka and kafka is None:
        raise ConfigError(
            f"{entry.dir / 'deploy.yaml'}: prediction_log names a Kafka topic but "
            f"{workspace.root / 'modelyard.yaml'} has no kafka section; add "
            "kafka: {bootstrap_servers: host:port}"
        )
    return ServerOptions.from_deploy(
        entry.deploy,
        admin_token=admin_token(workspace),
        prediction_log_dir=log_dir,
        kafka=KafkaEndpoint.from_settings(kafka) if kafka is not None else None,
    )


def cache_dir(workspace: Workspace) -> Path:
    """The workspace's verified model cache."""
    return cache.cache_dir_for(workspace.state_dir)


def launch_spec(
    workspace: Workspace,
    entry: ModelEntry,
    version: int,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    grpc_port: int | None = None,
) -> LaunchSpec:
    """The launch spec of a server for ``version`` of ``entry`` (which must be cached)."""
    from modelyard.serving.process.launch import LaunchSpec

    warmup = entry.spec.serving.warmup
    return LaunchSpec(
        cache_dir=cache_dir(workspace),
        model=entry.id,
        version=version,
        options=options_for(workspace, entry),
        method=entry.spec.serving.method,
        warmup_inputs=[list(row) for row in warmup.inputs] if warmup.inputs else None,
        warmup_requests=warmup.requests,
        host=host,
        port=port,
        workers=workers,
        grpc_port=grpc_port,
        allow_pickle=entry.spec.serving.allow_pickle,
    )


def spec_path(workspace: Workspace, name: str) -> Path:
    """Where a launch spec called ``name`` is written (the state folder's ``run/``)."""
    return workspace.state_dir / "run" / f"{name}.json"


def fetch(workspace: Workspace, model_id: str, version: int | None = None,
          alias: str | None = None) -> int:  # fmt: skip
    """Resolve and fetch a version into the verified cache through the registry (MLflow);
    returns its number."""
    from modelyard.registry import Registry

    fetched = Registry.for_workspace(workspace).fetch(model_id, version, alias)
    return fetched.version.version


def ensure_cached(workspace: Workspace, model_id: str, version: int) -> None:
    """Fetch ``version`` into the cache unless the index records it already (no MLflow then)."""
    if not cache.has(cache_dir(workspace), model_id, version):
        fetch(workspace, model_id, version)


def serve(
    workspace: Workspace,
    model_id: str,
    version: int | None = None,
    alias: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    grpc_port: int | None = None,
) -> None:
    """Serve a version of ``model_id`` until interrupted (over gRPC too with ``grpc_port``):
    this process becomes the lean server process (``exec``, same pid) for the version.

    A ``version`` the cache index records is served without MLflow ever loading; otherwise
    the version is resolved and fetched through the registry first. Either way the server
    holds neither the CLI's modules (typer, rich, pydantic, the config schemas: about 11 MiB)
    nor MLflow: it is the process a deployment runs.
    """
    entry = workspace.model(model_id)
    from modelyard.serving.process.launch import exec_server

    if (
        version is None
        or alias is not None
        or not cache.has(cache_dir(workspace), model_id, version)
    ):
        version = fetch(workspace, model_id, version, alias)
    spec = launch_spec(workspace, entry, version, host, port, workers, grpc_port)
    exec_server(spec, spec_path(workspace, f"serve-{model_id}-{port}"))
