"""modelyard: two small files per model, then train, track, register, serve and ship it.

The Python API mirrors the CLI: ``train``, ``sweep``, ``deploy``, ``rollback``, ``promote``,
``pause``, ``resume``, ``abort``, ``status``, ``history``, ``evaluate``, ``logs``, ``events`` and
``tune`` (see ``modelyard/lifecycle.py``), with the backends' typed records as results and the
same errors. Heavy modules load on first use, so importing modelyard is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from modelyard._lazy import lazy_names
from modelyard.errors import (
    ConfigError,
    Conflict,
    IntegrityError,
    JobFailed,
    ModelyardError,
    NotFound,
    Refused,
    StorageError,
    TaskFailed,
    Unavailable,
)

if TYPE_CHECKING:
    from modelyard.config import Workspace
    from modelyard.lifecycle import (
        abort,
        deploy,
        evaluate,
        events,
        history,
        logs,
        pause,
        promote,
        resume,
        rollback,
        status,
        sweep,
        tune,
    )
    from modelyard.workflows import TrainResult

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Conflict",
    "IntegrityError",
    "JobFailed",
    "ModelyardError",
    "NotFound",
    "Refused",
    "StorageError",
    "TaskFailed",
    "Unavailable",
    "__version__",
    "abort",
    "deploy",
    "evaluate",
    "events",
    "history",
    "load_workspace",
    "logs",
    "pause",
    "promote",
    "resume",
    "rollback",
    "status",
    "sweep",
    "train",
    "tune",
]

# the lifecycle functions load with their module on first use (PEP 562)
_WHERE = dict.fromkeys(
    ("abort", "deploy", "evaluate", "events", "history", "logs", "pause", "promote", "resume",
     "rollback", "status", "sweep", "tune"),
    "lifecycle",
)  # fmt: skip
__getattr__, __dir__ = lazy_names(__name__, _WHERE, __all__)


def load_workspace(workspace: Path | str = ".") -> Workspace:
    """Load and validate the workspace at or above ``workspace``."""
    from modelyard.config import load_workspace as load

    return load(workspace)


def train(
    model_id: str, params: list[str] | None = None, workspace: Path | str = "."
) -> TrainResult:
    """Train ``model_id`` of the workspace and register the model it logged.

    ``params`` are ``"key=value"`` overrides of ``model.yaml``'s training params. Raises
    :class:`JobFailed` (with the script's exit code) when training fails.
    """
    from modelyard.backends.local.backend import LocalBackend

    run = LocalBackend(load_workspace(workspace)).train(model_id, params or [])
    assert run.result is not None
    return run.result
