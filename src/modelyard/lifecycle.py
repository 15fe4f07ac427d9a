"""The lifecycle in Python: what the CLI's commands do, as functions with typed results.

Each function loads the workspace (``workspace``: a folder at or inside it), picks the backend
(``backend``: ``local`` or ``kubernetes``; ``modelyard.yaml``'s when None) and calls the same
code as the command of the same name, so results are the frozen records the backends return
(``DeployResult``, ``RolloutStatus``, ``RollbackResult``, ``Revision``...) and failures are the
same :class:`~modelyard.errors.ModelyardError` subclasses the CLI maps to exit codes.
``import modelyard`` loads this module on first use of one of its names.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.backends import (
        Backend,
        DeploymentEvent,
        DeployResult,
        Revision,
        RollbackResult,
        RolloutStatus,
    )
    from modelyard.backends.model_logs import ModelLogs
    from modelyard.backends.tuning import TuneAdvice
    from modelyard.config import Workspace
    from modelyard.evaluation import Evaluation
    from modelyard.workflows import SweepResult

__all__ = [
    "abort",
    "deploy",
    "evaluate",
    "events",
    "history",
    "logs",
    "pause",
    "promote",
    "resume",
    "rollback",
    "status",
    "sweep",
    "tune",
]

WorkspacePath = Path | str


def _open(
    workspace: WorkspacePath, backend: str | None, **options: Any
) -> tuple[Workspace, Backend]:
    from modelyard.backends import backend_for
    from modelyard.config import load_workspace

    ws = load_workspace(workspace)
    return ws, backend_for(ws, backend, **options)


def deploy(
    model_id: str,
    version: int | None = None,
    *,
    workspace: WorkspacePath = ".",
    backend: str | None = None,
    by: str = "",
    dry_run: bool = False,
) -> DeployResult:
    """``modelyard deploy``: serve ``version`` (the newest when None), or roll it out."""
    _, chosen = _open(workspace, backend)
    return chosen.deploy(model_id, version, by=by, dry_run=dry_run)


def rollback(
    model_id: str, *, workspace: WorkspacePath = ".", backend: str | None = None, by: str = ""
) -> RollbackResult:
    """``modelyard rollback``: back to the previous revision at once."""
    _, chosen = _open(workspace, backend)
    return chosen.rollback(model_id, by=by)


def _steer(
    command: str, model_id: str, workspace: WorkspacePath, backend: str | None, by: str
) -> RolloutStatus:
    _, chosen = _open(workspace, backend)
    return chosen.rollout(model_id, command, by=by)  # type: ignore[arg-type]


def promote(
    model_id: str, *, workspace: WorkspacePath = ".", backend: str | None = None, by: str = ""
) -> RolloutStatus:
    """``modelyard rollout promote``: skip the remaining steps; the new version takes all."""
    return _steer("promote", model_id, workspace, backend, by)


def pause(
    model_id: str, *, workspace: WorkspacePath = ".", backend: str | None = None, by: str = ""
) -> RolloutStatus:
    """``modelyard rollout pause``: hold the rollout at its step."""
    return _steer("pause", model_id, workspace, backend, by)


def resume(
    model_id: str, *, workspace: WorkspacePath = ".", backend: str | None = None, by: str = ""
) -> RolloutStatus:
    """``modelyard rollout resume``: go on from the step it was paused at."""
    return _steer("resume", model_id, workspace, backend, by)


def abort(
    model_id: str, *, workspace: WorkspacePath = ".", backend: str | None = None, by: str = ""
) -> RolloutStatus:
    """``modelyard rollout abort``: stop the rollout; the serving version keeps all traffic."""
    return _steer("abort", model_id, workspace, backend, by)


def status(
    model_id: str, *, workspace: WorkspacePath = ".", backend: str | None = None
) -> RolloutStatus:
    """``modelyard rollout status``: what serves the model now, and its latest rollout."""
    _, chosen = _open(workspace, backend)
    return chosen.status(model_id)


def history(
    model_id: str, *, workspace: WorkspacePath = ".", backend: str | None = None
) -> list[Revision]:
    """``modelyard history``: the model's revisions, oldest first."""
    _, chosen = _open(workspace, backend)
    return chosen.history(model_id)


def evaluate(
    model_id: str,
    version: int | None = None,
    *,
    alias: str | None = None,
    workspace: WorkspacePath = ".",
) -> Evaluation:
    """``modelyard evaluate``: the version's figures on ``evaluation.dataset`` (recorded)."""
    from modelyard.config import load_workspace
    from modelyard.errors import ConfigError
    from modelyard.evaluation import evaluate_version

    if version is not None and alias is not None:
        raise ConfigError("give version or alias, not both")
    return evaluate_version(load_workspace(workspace), model_id, version, alias)


def logs(
    model_id: str,
    *,
    run_id: str | None = None,
    version: int | None = None,
    server: bool = False,
    tail_lines: int | None = 200,
    workspace: WorkspacePath = ".",
    backend: str | None = None,
) -> ModelLogs:
    """``modelyard logs``: a run's log (``run_id``, or the run of ``version``), the servers'
    logs with their starts and exits (``server``), or else the deployment's events."""
    from modelyard.backends.model_logs import model_logs

    ws, chosen = _open(workspace, backend)
    return model_logs(
        chosen, ws, model_id, run_id=run_id, version=version, server=server,
        tail_lines=tail_lines,
    )  # fmt: skip


def events(
    model_id: str,
    *,
    since: float | None = None,
    workspace: WorkspacePath = ".",
    backend: str | None = None,
) -> list[DeploymentEvent]:
    """The deployment's events (starts, exits and why, rollout steps, rollbacks), oldest first."""
    _, chosen = _open(workspace, backend)
    return chosen.events(model_id, since=since)


def tune(
    model_ids: Sequence[str] = (),
    *,
    write: bool = False,
    force: bool = False,
    workspace: WorkspacePath = ".",
    backend: str | None = None,
) -> list[TuneAdvice]:
    """``modelyard tune``: right-sizing advice; ``write`` edits ``deploy.yaml`` (refused on too
    little history unless ``force``)."""
    from modelyard.backends.tuning import tune_models

    ws, chosen = _open(workspace, backend)
    return tune_models(ws, chosen, model_ids, write=write, force=force)


def sweep(
    model_id: str,
    *,
    trials: int | None = None,
    parallel: int | None = None,
    params: list[str] | None = None,
    register_best: bool = False,
    workspace: WorkspacePath = ".",
) -> SweepResult:
    """``modelyard train ID --sweep``: the model's ``training.sweep`` as parallel trials under
    one MLflow parent run, ranked by its metric; ``register_best`` registers the winner."""
    from modelyard.config import load_workspace
    from modelyard.workflows import sweep as run_sweep

    return run_sweep(
        load_workspace(workspace), model_id, trials=trials, parallel=parallel, params=params,
        register="best" if register_best else "none",
    )  # fmt: skip
