"""The Backend seam: where a workspace's lifecycle runs.

:class:`Backend` is the protocol (train, deploy, up, down, rollout commands, rollback, status,
history, usage); :func:`backend_for` picks one by name (``--backend``, else ``modelyard.yaml``'s
``backend``). ``local/`` runs supervised processes on this machine, ``kubernetes/`` renders
and applies to a cluster; :class:`~modelyard.backends.fake.InMemoryBackend` is the shipped
double for code on top of the seam.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelyard.backends.backend import (
    BACKENDS,
    Backend,
    BackendName,
    Command,
    DeploymentEvent,
    DeployResult,
    LogText,
    Revision,
    RollbackResult,
    RolloutStatus,
    TrainRun,
)
from modelyard.errors import ConfigError

if TYPE_CHECKING:
    from modelyard.config import Workspace

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendName",
    "Command",
    "DeployResult",
    "DeploymentEvent",
    "LogText",
    "Revision",
    "RollbackResult",
    "RolloutStatus",
    "TrainRun",
    "backend_for",
]


def backend_for(workspace: Workspace, name: str | None = None, **options: Any) -> Backend:
    """The backend called ``name`` (``modelyard.yaml``'s ``backend`` when None)."""
    chosen = name or workspace.settings.backend
    if chosen == "local":
        from modelyard.backends.local.backend import LocalBackend

        return LocalBackend(workspace, **options)
    if chosen == "kubernetes":
        from modelyard.backends.kubernetes import KubernetesBackend

        return KubernetesBackend(workspace, **options)
    raise ConfigError(f"--backend {chosen!r}: choose one of {', '.join(BACKENDS)}")
