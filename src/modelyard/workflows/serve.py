"""The serving workflow: fetch a registered version (checksum verified) and run the server.

The server only ever loads what the registry fetched and verified; the admin API's loader
goes through the same path, so a canary or shadow version is verified too.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from modelyard.config import ModelEntry, Workspace
from modelyard.registry import Registry
from modelyard.serving import ModelSource, ServerOptions, run_server

TOKEN_ENV = "MODELYARD_ADMIN_TOKEN"  # noqa: S105 - the name of a variable, not a secret


def admin_token(workspace: Workspace) -> str:
    """The admin API token: ``$MODELYARD_ADMIN_TOKEN``, else one kept in the state folder."""
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


def source_for(
    registry: Registry, entry: ModelEntry, version: int | None = None, alias: str | None = None
) -> ModelSource:
    """Fetch and verify a version, and describe it for the server."""
    fetched = registry.fetch(entry.id, version, alias)
    warmup = entry.spec.serving.warmup
    return ModelSource(
        name=entry.id,
        version=str(fetched.version.version),
        path=fetched.path,
        method=entry.spec.serving.method,
        warmup_inputs=[list(row) for row in warmup.inputs] if warmup.inputs else None,
        warmup_requests=warmup.requests,
        allow_pickle=entry.spec.serving.allow_pickle,
    )


def loader_for(registry: Registry, entry: ModelEntry) -> Callable[[str, str], ModelSource]:
    """What the server's admin API calls to load another version of the model."""

    def load(name: str, version: str) -> ModelSource:
        if name != entry.id:
            from modelyard.errors import NotFound

            raise NotFound(f"this server serves {entry.id!r}, not {name!r}")
        return source_for(registry, entry, int(version))

    return load


def options_for(workspace: Workspace, entry: ModelEntry) -> ServerOptions:
    log_dir: Path | None = None
    if entry.deploy.prediction_log.enabled:
        log_dir = workspace.state_dir / "predictions"
    return ServerOptions.from_deploy(
        entry.deploy, admin_token=admin_token(workspace), prediction_log_dir=log_dir
    )


def serve(
    workspace: Workspace,
    model_id: str,
    version: int | None = None,
    alias: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
) -> None:
    """Serve a version of ``model_id`` until interrupted."""
    entry = workspace.model(model_id)
    registry = Registry.for_workspace(workspace)
    primary = source_for(registry, entry, version, alias)
    run_server(
        primary,
        options_for(workspace, entry),
        host=host,
        port=port,
        workers=workers,
        loader=loader_for(registry, entry),
    )
