"""What ``modelyard logs`` and ``modelyard.logs()`` show, the same on every backend.

One of: a training run's log (``run_id``, or ``version`` for the run that produced it), the
model's server logs followed by the servers' starts and exits (with why they ended), or the
deployment's whole story (every event). The backend reads; this module only chooses.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.backends.backend import Backend, DeploymentEvent, LogText
from modelyard.config import Workspace
from modelyard.errors import ConfigError, NotFound

SERVER_KINDS = ("server_started", "server_exited", "gave_up")
"""Events shown under a server's log: its processes' lives (Kubernetes' pod events too)."""


@dataclass(frozen=True)
class ModelLogs:
    """Logs and events of one model, as ``modelyard logs`` prints them."""

    model_id: str
    logs: tuple[LogText, ...]
    events: tuple[DeploymentEvent, ...]


def _run_of_version(workspace: Workspace, model_id: str, version: int) -> str:
    from modelyard.registry import Registry

    found = Registry.for_workspace(workspace).resolve(model_id, version)
    if not found.run_id:
        raise NotFound(f"version {version} of {model_id!r} records no training run")
    return found.run_id


def model_logs(
    backend: Backend,
    workspace: Workspace,
    model_id: str,
    *,
    run_id: str | None = None,
    version: int | None = None,
    server: bool = False,
    tail_lines: int | None = 200,
) -> ModelLogs:
    """The logs asked for (see the module docstring); at most one of run_id, version, server."""
    if sum((run_id is not None, version is not None, server)) > 1:
        raise ConfigError("choose one of --run, --version and --server")
    if tail_lines is not None and tail_lines < 0:
        raise ConfigError(f"--lines {tail_lines}: give a number of lines, 0 or more")
    if version is not None:
        run_id = _run_of_version(workspace, model_id, version)
    if run_id is not None:
        return ModelLogs(
            model_id, tuple(backend.logs(model_id, run_id=run_id, tail_lines=tail_lines)), ()
        )
    events = backend.events(model_id)
    if server:
        kept = [e for e in events if e.kind in SERVER_KINDS or e.kind.startswith("k8s:")]
        logs = backend.logs(model_id, tail_lines=tail_lines)
        return ModelLogs(model_id, tuple(logs), tuple(kept))
    return ModelLogs(model_id, (), tuple(events))
