"""Runs a model's pipeline: each step in order, stopping at the first that fails.

Every step's start and outcome is recorded in the pipeline history as it happens, with
times from an injected clock, so a run can be read back (``pipeline history``) and tested
without waiting. A run holds the model's pipeline lock: two runs of one model never overlap.
One step of a named run can also be run alone (``--step`` with ``--run-key``), as the
exported Airflow tasks do; it picks up the outputs of the steps before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modelyard.clock import SYSTEM_CLOCK, Clock
from modelyard.config import Workspace
from modelyard.errors import ConfigError, Conflict, ModelyardError
from modelyard.pipelines.history import PipelineHistory, RunRecord
from modelyard.pipelines.steps import (
    Step,
    StepContext,
    StepFailed,
    default_steps,
    pipeline_lock,
)


class PipelineBusy(Conflict):
    """Another process is running this model's pipeline now."""


@dataclass(frozen=True)
class PipelineResult:
    """How a run went; ``record`` is what the history holds."""

    record: RunRecord
    outputs: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.record.status == "ok"


def history_for(workspace: Workspace) -> PipelineHistory:
    return PipelineHistory.for_state_dir(workspace.state_dir)


def execute(
    history: PipelineHistory,
    run: int,
    ctx: StepContext,
    steps: Sequence[tuple[str, Step]],
    clock: Clock,
    finish: bool = True,
) -> bool:
    """Run ``steps`` of run ``run`` in order, recording each; False at the first failure."""
    for name, step in steps:
        history.set_step(run, name, "running", clock.now())
        try:
            detail = step(ctx)
        except ModelyardError as exc:
            history.set_step(run, name, "failed", clock.now(), str(exc))
            history.set_outputs(run, ctx.outputs)
            if finish:
                history.finish_run(run, "failed", clock.now())
            return False
        history.set_step(run, name, "ok", clock.now(), detail)
        history.set_outputs(run, ctx.outputs)
    if finish:
        history.finish_run(run, "ok", clock.now())
    return True


def _result(history: PipelineHistory, model_id: str, run: int) -> PipelineResult:
    record = next(r for r in history.runs(model_id, limit=1000) if r.id == run)
    return PipelineResult(record, history.outputs(run))


def run_pipeline(
    workspace: Workspace,
    model_id: str,
    *,
    steps: Sequence[tuple[str, Step]] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    trigger: str = "manual",
    scheduled_for: float | None = None,
    wait_lock: float = 0.0,
) -> PipelineResult | None:
    """Run the whole pipeline once; None when a run for ``scheduled_for`` exists already.

    Raises :class:`PipelineBusy` when another run of the model holds its lock.
    """
    workspace.model(model_id)
    chosen = list(steps or default_steps())
    history = history_for(workspace)
    lock = pipeline_lock(workspace, model_id)
    if not lock.acquire(wait_lock):
        raise PipelineBusy(f"a pipeline run of {model_id!r} is in progress; try again later")
    try:
        run = history.start_run(
            model_id, [n for n, _ in chosen], clock.now(), trigger, scheduled_for=scheduled_for
        )
        if run is None:
            return None
        execute(history, run, StepContext(workspace, model_id), chosen, clock)
        return _result(history, model_id, run)
    finally:
        lock.release()


def run_step(
    workspace: Workspace,
    model_id: str,
    step: str,
    run_key: str,
    *,
    steps: Sequence[tuple[str, Step]] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> PipelineResult:
    """Run one step of the run named ``run_key`` (created by its first step)."""
    workspace.model(model_id)
    chosen = list(steps or default_steps())
    names = [n for n, _ in chosen]
    if step not in names:
        raise ConfigError(f"--step {step!r}: choose one of {', '.join(names)}")
    history = history_for(workspace)
    run = history.run_by_key(run_key)
    if run is None:
        run = history.start_run(model_id, names, clock.now(), "external", key=run_key)
        if run is None:
            run = history.run_by_key(run_key)
    assert run is not None
    ctx = StepContext(workspace, model_id, history.outputs(run))
    position = names.index(step)
    last = position == len(names) - 1
    with pipeline_lock(workspace, model_id).hold(timeout=3600.0):
        ok = execute(history, run, ctx, [chosen[position]], clock, finish=False)
        if not ok or last:
            history.finish_run(run, "ok" if ok else "failed", clock.now())
    result = _result(history, model_id, run)
    if not ok:
        failed = next(s for s in result.record.steps if s.name == step)
        raise StepFailed(f"step {step} of {model_id} failed: {failed.detail}")
    return result
