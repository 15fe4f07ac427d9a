"""Serving a pool: every model whose ``deploy.yaml`` names it, resolved and cached, in one
server process (``modelyard serve --pool NAME``).

Each model's version is its ``production`` alias, else its newest version, fetched into the
verified cache through the registry (MLflow) here; then this process becomes the lean pool
server (``python -m modelyard.serving POOL.json``), which loads each model from the cache at
its first request and never imports MLflow.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from modelyard.errors import ConfigError, NotFound

if TYPE_CHECKING:
    from modelyard.config import ModelEntry, Workspace
    from modelyard.serving.process.pool_launch import PoolSpec


def pool_models(workspace: Workspace, pool: str) -> list[ModelEntry]:
    """The models that ``pool`` serves; a ``ConfigError`` for a pool that is not defined or
    that no model names."""
    if pool not in workspace.settings.pools:
        known = ", ".join(sorted(workspace.settings.pools)) or "none defined"
        raise ConfigError(
            f"{workspace.root / 'modelyard.yaml'}: no pool {pool!r} (pools: {known}); add "
            f"pools: {{{pool}: {{memory: 2Gi}}}}"
        )
    entries = [e for e in workspace.models.values() if e.deploy.pool and e.deploy.pool.name == pool]
    if not entries:
        raise ConfigError(
            f"no model names pool {pool!r}: add 'pool: {pool}' to a model's deploy.yaml"
        )
    return sorted(entries, key=lambda e: e.id)


def served_version(workspace: Workspace, model_id: str) -> int:
    """Fetch the version a pool serves (``production``, else the newest) into the cache."""
    from modelyard.workflows.serve import fetch

    try:
        return fetch(workspace, model_id, alias="production")
    except NotFound:
        return fetch(workspace, model_id)


def pool_spec(
    workspace: Workspace,
    pool: str,
    versions: dict[str, int],
    host: str = "127.0.0.1",
    port: int = 8080,
) -> PoolSpec:
    """The launch spec of ``pool`` serving ``versions`` (model id -> cached version)."""
    from modelyard.config.quantity import memory_bytes
    from modelyard.serving.process.pool_launch import PoolMemberSpec, PoolSpec
    from modelyard.workflows.serve import admin_token, cache_dir, options_for

    settings = workspace.settings.pools[pool]
    members = []
    for entry in pool_models(workspace, pool):
        warmup = entry.spec.serving.warmup
        placement = entry.deploy.pool
        members.append(
            PoolMemberSpec(
                model=entry.id,
                version=versions[entry.id],
                options=options_for(workspace, entry),
                method=entry.spec.serving.method,
                warmup_inputs=[list(row) for row in warmup.inputs] if warmup.inputs else None,
                warmup_requests=warmup.requests,
                allow_pickle=entry.spec.serving.allow_pickle,
                pinned=placement is not None and placement.pinned,
            )
        )
    return PoolSpec(
        cache_dir=cache_dir(workspace),
        pool=pool,
        memory_budget_bytes=memory_bytes(settings.memory),
        load_timeout_s=settings.load_timeout,
        models=members,
        admin_token=admin_token(workspace),
        host=host,
        port=port,
    )


def serve_pool(workspace: Workspace, pool: str, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve ``pool`` until interrupted; this process becomes the lean pool server."""
    from modelyard.serving.process.launch import command
    from modelyard.serving.process.pool_launch import write_pool_spec
    from modelyard.workflows.serve import spec_path

    versions = {e.id: served_version(workspace, e.id) for e in pool_models(workspace, pool)}
    spec = pool_spec(workspace, pool, versions, host, port)
    argv = command(write_pool_spec(spec, spec_path(workspace, f"pool-{pool}-{port}")))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # noqa: S606 - our own interpreter and module, no shell
