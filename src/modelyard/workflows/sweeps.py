"""A hyperparameter sweep: many trainings of one model, run as parallel jobs under one
MLflow parent run, ranked by a metric, the winner registered.

Each trial is an ordinary training (:func:`modelyard.workflows.training.train`: a job with
the model's resources, its usage and log recorded) whose run is a child of the sweep's run
(tag ``mlflow.parentRunId``) and registers nothing. As many trials run at once as asked,
bounded by what the machine holds (``jobs.slots``). A failed trial is recorded (its run is
FAILED, its row says why) and the sweep goes on. With ``register="best"`` only the winner
becomes a version, through the same registration as any training, and the evaluation gate
(:func:`modelyard.evaluation.run_gate`) then records its verdict on it, as for any candidate.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import TYPE_CHECKING, Literal

from modelyard.config import ModelEntry, Workspace, cpu_millis, memory_bytes
from modelyard.config.schema import Sweep
from modelyard.errors import ConfigError, ModelyardError
from modelyard.jobs import LocalRunner, Runner
from modelyard.jobs.slots import Machine, Slots, fit
from modelyard.registry import ModelVersion, Registry
from modelyard.tracking import Tracking
from modelyard.workflows.search import Params, Search, search_for
from modelyard.workflows.trainer import register_logged
from modelyard.workflows.training import TrainResult, git_commit, parse_params, train

if TYPE_CHECKING:  # the evaluation stack is imported only to run the gate
    from modelyard.evaluation import GateVerdict

SWEEP_TAG = "modelyard.sweep"
"""Tag of a sweep's parent run (``parent``) and of its trials (``trial``)."""


class NoSweep(ConfigError):
    """``--sweep`` on a model whose ``model.yaml`` has no ``training.sweep``."""


@dataclass(frozen=True)
class Trial:
    """One trial of a sweep, as it ended."""

    number: int
    params: Mapping[str, object]
    status: Literal["finished", "failed"]
    value: float | None
    """The sweep's metric, or None when the trial failed or did not log it."""
    run_id: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None
    log_path: str | None = None
    duration_s: float = 0.0


@dataclass(frozen=True)
class SweepResult:
    """What a sweep did: its parent run, every trial ranked, and the winner."""

    model_id: str
    parent_run_id: str
    experiment_id: str
    metric: str
    direction: str
    slots: Slots
    trials: tuple[Trial, ...]
    """Ranked: the best first, failed trials last."""
    version: ModelVersion | None = None
    """The winner's registered version (``register="best"``)."""
    gate: GateVerdict | None = None
    """The evaluation gate's verdict on ``version``."""

    @property
    def best(self) -> Trial | None:
        first = self.trials[0] if self.trials else None
        return first if first is not None and first.value is not None else None

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model_id,
            "parent_run_id": self.parent_run_id,
            "metric": self.metric,
            "direction": self.direction,
            "parallel": self.slots.count,
            "parallel_requested": self.slots.requested,
            "parallel_bound_by": self.slots.bound_by,
            "trials": [
                {
                    "number": t.number,
                    "status": t.status,
                    "value": t.value,
                    "params": {k: _plain(v) for k, v in t.params.items()},
                    "run_id": t.run_id,
                    "metrics": dict(t.metrics),
                    "error": t.error,
                    "log": t.log_path,
                    "duration_s": round(t.duration_s, 2),
                }
                for t in self.trials
            ],
            "best_run_id": self.best.run_id if self.best else None,
            "version": self.version.version if self.version else None,
            "gate": self.gate.to_dict() if self.gate else None,
        }


def _plain(value: object) -> object:
    return value if isinstance(value, str | int | float | bool) else str(value)


def rank(trials: list[Trial], direction: str) -> list[Trial]:
    """Best first by the metric, then the trials with no value, each group by number."""
    sign = -1.0 if direction == "maximize" else 1.0
    scored = sorted(
        (t for t in trials if t.value is not None), key=lambda t: sign * (t.value or 0.0)
    )
    rest = sorted((t for t in trials if t.value is None), key=lambda t: t.number)
    return scored + rest


@dataclass(frozen=True)
class SweepEvents:
    """Callbacks as the sweep advances (a progress bar and a table, in the CLI)."""

    on_start: Callable[[int, Params], None] = lambda number, params: None
    on_done: Callable[[Trial, list[Trial]], None] = lambda trial, ranked: None
    """The trial that ended, and every ended trial ranked so far."""


def _settings(entry: ModelEntry, trials: int | None, parallel: int | None) -> Sweep:
    sweep = entry.spec.training.sweep
    if sweep is None:
        raise NoSweep(
            f"{entry.dir / 'model.yaml'}: training.sweep is not set, so there is nothing to "
            "sweep; add one, e.g.\n  training:\n    sweep:\n      params:\n        C: {low: "
            "0.01, high: 10, log: true}\n      trials: 8\n      metric: auc"
        )
    for name, value in (("--trials", trials), ("--parallel", parallel)):
        if value is not None and not 1 <= value <= 1000:
            raise ConfigError(f"{name} {value}: give a number from 1 to 1000")
    update: dict[str, object] = {}
    if trials is not None:
        update["trials"] = trials
    if parallel is not None:
        update["parallel"] = parallel
    return sweep.model_copy(update=update)


def sweep(
    workspace: Workspace,
    model_id: str,
    *,
    trials: int | None = None,
    parallel: int | None = None,
    params: list[str] | None = None,
    register: Literal["best", "none"] = "none",
    events: SweepEvents | None = None,
    runner: Runner | None = None,
    machine: Machine | None = None,
    rng: Random | None = None,
) -> SweepResult:
    """Run ``model_id``'s ``training.sweep``; rank the trials; register the best if asked.

    ``params`` (``-p k=v``) fix parameters the sweep does not vary. Raises ``ConfigError``
    for a model without a sweep or a search that cannot run here, before any run exists.
    """
    entry = workspace.model(model_id)
    settings = _settings(entry, trials, parallel)
    fixed = parse_params(params or [], entry.spec.training.params)
    search = search_for(settings, settings.trials, entry.spec.training.params, rng)
    resources = entry.spec.training.resources
    slots = fit(
        settings.parallel,
        cpu_millis(resources.cpu) / 1000,
        memory_bytes(resources.memory),
        machine or Machine.here(),
    )
    registry = Registry.for_workspace(workspace)
    tracking = registry.tracking
    experiment_id = tracking.experiment_id(entry.id)
    parent = tracking.start_run(
        experiment_id,
        {
            "sweep.search": settings.search,
            "sweep.trials": settings.trials,
            "sweep.parallel": slots.count,
            "sweep.metric": settings.metric,
            "sweep.direction": settings.direction,
            "sweep.params": json.dumps(
                settings.model_dump(by_alias=True, exclude_none=True)["params"], sort_keys=True
            )[:6000],
        },
        {
            SWEEP_TAG: "parent",
            "modelyard.model": entry.id,
            "mlflow.runName": f"sweep-{entry.id}",
        },
    )
    ended: list[Trial] = []
    try:
        ended = _run_trials(
            workspace, entry, settings, search, fixed, slots.count, parent, events, runner
        )
    finally:
        ranked = rank(ended, settings.direction)
        _close_parent(tracking, parent, settings.metric, ranked)
    version, verdict = None, None
    best = ranked[0] if ranked and ranked[0].value is not None else None
    if register == "best" and best is not None and best.run_id:
        version, _ = register_logged(
            registry, entry, experiment_id, best.run_id, git_commit(entry.dir)
        )
        from modelyard.evaluation import run_gate

        verdict = run_gate(workspace, entry.id, version.version)
    return SweepResult(
        model_id=entry.id,
        parent_run_id=parent,
        experiment_id=experiment_id,
        metric=settings.metric,
        direction=settings.direction,
        slots=slots,
        trials=tuple(ranked),
        version=version,
        gate=verdict,
    )


def _close_parent(tracking: Tracking, parent: str, metric: str, ranked: list[Trial]) -> None:
    best = ranked[0] if ranked and ranked[0].value is not None else None
    finished = sum(t.status == "finished" for t in ranked)
    tracking.log_metrics(
        parent,
        {"sweep.trials_finished": finished, "sweep.trials_failed": len(ranked) - finished}
        | ({f"best_{metric}": best.value} if best and best.value is not None else {}),
    )
    if best is not None and best.run_id:
        tracking.set_tags(parent, {"modelyard.sweep.best_run_id": best.run_id})
    tracking.finish_run(parent, ok=best is not None)


def _run_trials(
    workspace: Workspace,
    entry: ModelEntry,
    settings: Sweep,
    search: Search,
    fixed: Mapping[str, object],
    slots: int,
    parent: str,
    events: SweepEvents | None,
    runner: Runner | None,
) -> list[Trial]:
    events = events or SweepEvents()
    job_runner = runner or LocalRunner()
    ended: list[Trial] = []
    lock = threading.Lock()

    def one(number: int, params: Params) -> Trial:
        try:
            result = train(
                workspace,
                entry.id,
                runner=job_runner,
                overrides={**fixed, **params},
                parent_run_id=parent,
                register=False,
            )
        except ModelyardError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return Trial(number, params, "failed", None, error=first, log_path=_log_of(exc))
        return _finished(number, params, result, settings.metric)

    with ThreadPoolExecutor(max_workers=slots, thread_name_prefix="trial") as pool:
        running: dict[Future[Trial], int] = {}
        exhausted = False
        while running or not exhausted:
            while not exhausted and len(running) < slots:
                asked = search.ask()
                if asked is None:
                    exhausted = True
                    break
                number, params = asked
                events.on_start(number, params)
                running[pool.submit(one, number, params)] = number
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                running.pop(future)
                trial = future.result()
                search.tell(trial.number, trial.value)
                with lock:
                    ended.append(trial)
                    events.on_done(trial, rank(ended, settings.direction))
    return ended


def _log_of(exc: ModelyardError) -> str | None:
    for line in str(exc).splitlines():
        if "last lines of " in line:
            return line.split("last lines of ", 1)[1].rstrip(":")
        if line.strip().startswith("log: "):
            return line.strip().removeprefix("log: ")
    return None


def _finished(number: int, params: Params, result: TrainResult, metric: str) -> Trial:
    value = result.metrics.get(metric)
    if value is not None and not math.isfinite(value):
        value = None
    return Trial(
        number,
        params,
        "finished",
        value,
        run_id=result.run_id,
        metrics=dict(result.metrics),
        error=None if value is not None else f"the run logged no finite {metric!r}",
        log_path=str(Path(result.log_path)),
        duration_s=result.job.duration_s,
    )
