"""A training run's log, read back from where training kept it: the run's MLflow artifact
``logs/``, which the job logs on every run, failed or not (``trainer.close_run``).

MLflow is the one place both backends share (a local run logs to the workspace's SQLite store,
a Kubernetes Job to the tracking server), so ``logs --run`` reads the same way on both, and
after every process of the workspace is gone. The run must belong to the model asked about.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from modelyard.config import Workspace
from modelyard.errors import ConfigError, ModelyardError, NotFound

_RUN_ID = re.compile(r"[0-9a-f]{32}")


class NoRunLog(NotFound):
    """The run is not the model's, or has no log."""


def run_log_text(workspace: Workspace, model_id: str, run_id: str) -> tuple[str, str]:
    """``(file name, text)`` of the log of ``model_id``'s training run ``run_id``."""
    entry = workspace.model(model_id)
    if not _RUN_ID.fullmatch(run_id):
        raise ConfigError(
            f"--run {run_id[:80]!r} is not an MLflow run id (32 hex digits); "
            f"`modelyard train` prints the run id"
        )
    from modelyard.registry import Registry

    tracking = Registry.for_workspace(workspace).tracking
    try:
        run = tracking.get_run(run_id)
    except ModelyardError as exc:
        raise NoRunLog(f"run {run_id} is not known to the tracking store: {exc}") from exc
    if run.experiment_id != tracking.experiment_id(entry.id):
        raise NoRunLog(f"run {run_id} is not a training run of {entry.id!r}")
    # a run's artifacts live under its experiment's location, which the adapter keeps at
    # <artifact store>/<model id> (it refuses an experiment that points elsewhere)
    source = f"{tracking.artifact_root.rstrip('/')}/{entry.id}/{run_id}/artifacts/logs"
    with tempfile.TemporaryDirectory(prefix="modelyard-runlog-") as tmp:
        try:
            folder = tracking.download(source, Path(tmp))
        except ModelyardError as exc:
            raise NoRunLog(f"run {run_id} of {entry.id!r} has no log: {exc}") from exc
        files = sorted(folder.glob("*.log")) if folder.is_dir() else [folder]
        if not files:
            raise NoRunLog(f"run {run_id} of {entry.id!r} has no log artifact")
        return files[0].name, files[0].read_text(encoding="utf-8", errors="replace")
