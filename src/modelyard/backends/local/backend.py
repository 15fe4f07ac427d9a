"""The local backend behind the :class:`~modelyard.backends.backend.Backend` seam.

A thin class over :mod:`~modelyard.backends.local.operations` (deploy, rollout commands,
rollback: supervised processes and the SQLite state store) and the training workflow, so the
CLI picks a backend by name and calls the same methods on either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from modelyard.backends.backend import (
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
from modelyard.backends.local import operations
from modelyard.config import Workspace
from modelyard.errors import ConfigError
from modelyard.observe.usage import serving_subject, training_subject

if TYPE_CHECKING:
    from modelyard.jobs import LineSink
    from modelyard.observe.usage import UsageSample


class LocalBackend:
    """Processes on this machine, state in ``.modelyard/state.db``."""

    name: BackendName = "local"

    def __init__(self, workspace: Workspace, *, env: Mapping[str, str] | None = None) -> None:
        self.workspace = workspace
        self.env = env
        """Extra environment of the supervisors this backend starts (tests, benchmarks)."""

    def train(
        self, model_id: str, params: Sequence[str] = (), *, on_line: LineSink | None = None
    ) -> TrainRun:
        from modelyard.workflows import train

        result = train(self.workspace, model_id, list(params), on_line=on_line)
        # the job's samples join the usage history (``train:<model>``) that capacity reads
        operations.store_for(self.workspace).record_usage_many(result.job.usage)
        return TrainRun(model_id, "local", result=result)

    def deploy(
        self, model_id: str, version: int | None = None, *, by: str = "", dry_run: bool = False
    ) -> DeployResult:
        if dry_run:
            raise ConfigError("--dry-run is for --backend kubernetes; a local deploy is instant")
        return operations.deploy(self.workspace, model_id, version, by=by or None, env=self.env)

    def up(self) -> list[DeployResult]:
        return operations.up(self.workspace, env=self.env)

    def down(self, model_ids: Sequence[str] | None = None) -> list[str]:
        return operations.down(self.workspace, list(model_ids) if model_ids else None)

    def rollout(self, model_id: str, command: Command, *, by: str = "") -> RolloutStatus:
        operations.rollout_command(self.workspace, model_id, command, by=by)
        return self.status(model_id)

    def rollback(self, model_id: str, *, by: str = "") -> RollbackResult:
        return operations.rollback(self.workspace, model_id, by=by)

    def status(self, model_id: str) -> RolloutStatus:
        view = operations.rollout_view(self.workspace, model_id)
        dep, state = view.deployment, view.state
        return RolloutStatus(
            model_id,
            "local",
            serving=dep.primary_version if dep else None,
            canary=dep.canary_version if dep else None,
            canary_share=(dep.canary_weight / 100.0) if dep else 0.0,
            rollout_version=state.version if state else None,
            phase=state.phase.value if state else None,
            step=state.step + 1 if state and state.step >= 0 else None,
            paused=state.paused if state else False,
            finished=state.terminal if state else True,
            detail=view,
        )

    def history(self, model_id: str) -> list[Revision]:
        return operations.history(self.workspace, model_id)

    def usage(self, model_id: str, *, since: float | None = None) -> list[UsageSample]:
        self.workspace.model(model_id)
        store = operations.store_for(self.workspace)
        samples = [
            *store.usage(serving_subject(model_id), since=since),
            *store.usage(training_subject(model_id), since=since),
        ]
        return sorted(samples, key=lambda s: s.at)

    def events(self, model_id: str, *, since: float | None = None) -> list[DeploymentEvent]:
        from modelyard.backends.local.logs import deployment_events

        self.workspace.model(model_id)
        return deployment_events(operations.store_for(self.workspace), model_id, since)

    def logs(
        self, model_id: str, *, run_id: str | None = None, tail_lines: int | None = 200
    ) -> list[LogText]:
        from modelyard.backends.local.logs import server_logs

        self.workspace.model(model_id)
        if run_id is not None:
            from modelyard.workflows.runlogs import run_log_text

            name, text = run_log_text(self.workspace, model_id, run_id)
            kept = "".join(text.splitlines(keepends=True)[-tail_lines:]) if tail_lines else text
            # a finished run's log: its MLflow artifact (logged when the run closed)
            return [LogText(f"run {run_id} ({name})", kept)]
        return server_logs(self.workspace, model_id, tail_lines)
