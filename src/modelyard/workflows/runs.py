"""Training runs as ``modelyard runs`` shows them, and runs whose ``modelyard train`` died.

A run records the pid and start time of the ``modelyard train`` process that started it
(tags). If that process dies (``kill -9``), the watchdog in :mod:`modelyard.jobs` stops the
script, and nobody is left to close the run: it stays RUNNING, or FINISHED by the script's
own ``mlflow.start_run()`` block, with no version. The next command that looks (``modelyard
runs``, ``modelyard train``) finds such runs, sees that their parent is gone (no process with
that pid and start time) and marks them FAILED with the reason. A run that logged a model
but registered no version says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

from modelyard.registry import Registry
from modelyard.tracking import RunRecord

PARENT_PID_TAG = "modelyard.parent_pid"
PARENT_STARTED_TAG = "modelyard.parent_started"
"""Unix time the parent process started: with the pid, names it even after pid reuse."""
FAILURE_TAG = "modelyard.failure"
OPEN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED")
UNREGISTERED = "logged a model, but no version was registered"


def parent_tags() -> dict[str, str]:
    """The tags naming this process as the parent of a new run."""
    me = psutil.Process(os.getpid())
    return {PARENT_PID_TAG: str(me.pid), PARENT_STARTED_TAG: repr(me.create_time())}


def parent_alive(tags: dict[str, str] | RunRecord) -> bool | None:
    """Whether the run's parent still runs; None when the run does not name one."""
    found = tags.tags if isinstance(tags, RunRecord) else tags
    try:
        pid, started = int(found[PARENT_PID_TAG]), float(found[PARENT_STARTED_TAG])
    except (KeyError, ValueError):
        return None
    try:
        return abs(psutil.Process(pid).create_time() - started) < 1.0
    except psutil.Error:
        return False


@dataclass(frozen=True)
class RunView:
    """A training run with what modelyard knows about it beyond MLflow's record."""

    run: RunRecord
    version: int | None
    logged_model: bool

    @property
    def note(self) -> str | None:
        """Why it failed (when modelyard recorded it), or that it registered nothing."""
        failure = self.run.tags.get(FAILURE_TAG)
        if failure:
            return failure
        if self.logged_model and self.version is None:
            return UNREGISTERED
        return None


def reap_orphans(registry: Registry, model_id: str, skip: str | None = None) -> list[str]:
    """Mark FAILED the model's runs whose parent died before registering; their ids."""
    tracking = registry.tracking
    made = {mv.run_id for mv in registry.versions(model_id) if mv.run_id}
    reaped: list[str] = []
    logged: set[str] | None = None
    for run in tracking.runs(model_id, limit=50):
        if run.run_id == skip or run.run_id in made or run.status not in OPEN_STATUSES:
            continue
        if FAILURE_TAG in run.tags or parent_alive(run) is not False:
            continue
        if logged is None:
            logged = tracking.runs_with_logged_models(run.experiment_id)
        why = (
            f"`modelyard train` (pid {run.tags[PARENT_PID_TAG]}) died before the run "
            f"finished; its script was stopped"
        )
        if run.run_id in logged:
            why += f"; it {UNREGISTERED}"
        tracking.set_tags(run.run_id, {FAILURE_TAG: why})
        tracking.finish_run(run.run_id, ok=False)
        reaped.append(run.run_id)
    return reaped


def run_views(registry: Registry, model_id: str, limit: int) -> list[RunView]:
    """The newest runs of ``model_id``, newest first, after reaping orphaned ones."""
    reap_orphans(registry, model_id)
    tracking = registry.tracking
    made = {mv.run_id: mv.version for mv in registry.versions(model_id) if mv.run_id}
    runs = tracking.runs(model_id, limit)
    logged = tracking.runs_with_logged_models(runs[0].experiment_id) if runs else set()
    return [RunView(r, made.get(r.run_id), r.run_id in logged) for r in runs]
