"""Pools on the local backend: one pool server per pool, for all of the workspace's models that
name it, instead of a supervisor, a template and a server per model.

``up`` starts each pool's server detached (the lean ``python -m modelyard.serving POOL.json``,
its own session, its log in ``.modelyard/logs/pool-<name>.log``) and records its pid and port
in ``.modelyard/run/pool-<name>.state.json`` (temp file + rename); a second ``up`` finds it
running and leaves it. ``down`` stops it (SIGTERM: it drains). ``views`` asks each running pool's
admin API which models are loaded, their measured memory and evictions (``modelyard pools``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.config import Workspace
from modelyard.errors import Unavailable


@dataclass(frozen=True)
class PoolRun:
    """A pool server started by ``up``."""

    pool: str
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _record_path(workspace: Workspace, pool: str) -> Path:
    return workspace.state_dir / "run" / f"pool-{pool}.state.json"


def _alive(pid: int) -> bool:
    """Whether the process runs. A zombie does not: a pool server that this process started
    (``up`` and ``down`` from one Python session) stays one after it exits until reaped, and
    ``down`` would otherwise wait for it to its timeout."""
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


_STARTED: dict[int, subprocess.Popen[bytes]] = {}
"""The pool servers this process started, by pid: ``stop`` waits for these itself, which also
collects their exit status (a process's first thread can show as a zombie while the others
still exit, so polling for the zombie and then reaping can come too early)."""


def running(workspace: Workspace, pool: str) -> PoolRun | None:
    """The pool's server if its recorded process is alive."""
    path = _record_path(workspace, pool)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        run = PoolRun(pool, int(body["pid"]), int(body["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return run if _alive(run.pid) else None


def pooled_pools(workspace: Workspace, models: list[str]) -> dict[str, list[str]]:
    """Pool name -> the given models that name it."""
    found: dict[str, list[str]] = {}
    for model_id in models:
        placement = workspace.model(model_id).deploy.pool
        if placement is not None:
            found.setdefault(placement.name, []).append(model_id)
    return found


def start(
    workspace: Workspace, pool: str, timeout: float = 180.0
) -> tuple[PoolRun, bool, dict[str, int]]:
    """Start ``pool``'s server unless it runs; returns it, whether it was started now, and the
    version each of its models serves."""
    from modelyard.backends.local.process import free_port
    from modelyard.serving.process.launch import command
    from modelyard.serving.process.pool_launch import read_pool_spec, write_pool_spec
    from modelyard.workflows.pools import pool_models, pool_spec, served_version
    from modelyard.workflows.serve import spec_path

    found = running(workspace, pool)
    if found is not None:
        served = read_pool_spec(spec_path(workspace, f"pool-{pool}")).models
        return found, False, {m.model: m.version for m in served}
    versions = {e.id: served_version(workspace, e.id) for e in pool_models(workspace, pool)}
    port = free_port()
    spec = write_pool_spec(
        pool_spec(workspace, pool, versions, port=port), spec_path(workspace, f"pool-{pool}")
    )
    logs = workspace.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"pool-{pool}.log").open("ab") as log:
        proc = subprocess.Popen(
            command(spec),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _STARTED[proc.pid] = proc
    run = PoolRun(pool, proc.pid, port)
    _write_record(workspace, run)
    _wait_ready(run, proc, timeout, logs / f"pool-{pool}.log")
    return run, True, versions


def _write_record(workspace: Workspace, run: PoolRun) -> None:
    path = _record_path(workspace, run.pool)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(json.dumps({"pid": run.pid, "port": run.port}), encoding="utf-8")
    staging.replace(path)


def _wait_ready(run: PoolRun, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Unavailable(f"the server of pool {run.pool!r} exited; see {log}", 5.0)
        try:
            if httpx.get(f"{run.url}/v2/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise Unavailable(f"the server of pool {run.pool!r} is not ready; see {log}", 5.0)


def stop(workspace: Workspace, pool: str, timeout: float = 60.0) -> bool:
    """Stop ``pool``'s server (it drains first); whether one was running."""
    found = running(workspace, pool)
    if found is None:
        return False
    started = _STARTED.pop(found.pid, None)
    os.kill(found.pid, signal.SIGTERM)
    if started is not None:  # a child of this process: wait for it, which reaps it
        with contextlib.suppress(subprocess.TimeoutExpired):
            started.wait(timeout)
    else:
        deadline = time.monotonic() + timeout
        while _alive(found.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    _record_path(workspace, pool).unlink(missing_ok=True)
    return True


def views(workspace: Workspace) -> list[dict[str, Any]]:
    """Each running pool's admin view: its models, loaded or not, measured memory, evictions."""
    import httpx

    from modelyard.workflows.serve import admin_token

    token = admin_token(workspace)
    found = []
    for pool in sorted(workspace.settings.pools):
        run = running(workspace, pool)
        if run is None:
            found.append({"pool": pool, "running": False, "models": []})
            continue
        reply = httpx.get(
            f"{run.url}/admin/pool", headers={"authorization": f"Bearer {token}"}, timeout=10
        )
        reply.raise_for_status()
        found.append({**reply.json(), "running": True, "url": run.url})
    return found
