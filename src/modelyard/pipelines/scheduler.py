"""Runs due pipelines on the local backend: ``training.schedule`` is a cron expression.

On each tick, a model whose latest fire time is after its last scheduled run (or after the
scheduler first saw it) is due. A due model runs once, for its latest fire time only, so a
scheduler that was down for three fire times catches up with one run, not three. Two
schedulers (two supervisors, two ``modelyard up``) may tick at once: the model's pipeline lock
lets one run, and the history's unique fire time stops the other from running it again
afterwards. Time comes from an injected clock. The ticking thread is an edge: whatever a
tick raises is logged with its traceback and the next tick comes (a failed run is already in
the history as failed; see ``engine.py``), so the scheduler never dies while its process holds
the workspace's scheduler lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from modelyard.clock import SYSTEM_CLOCK, Clock
from modelyard.config import Workspace
from modelyard.config.cron import Cron
from modelyard.errors import ModelyardError
from modelyard.pipelines.engine import (
    PipelineBusy,
    PipelineResult,
    history_for,
    run_pipeline,
)
from modelyard.pipelines.steps import Step

log = logging.getLogger(__name__)


class Scheduler:
    """The schedules of one workspace's models."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        clock: Clock = SYSTEM_CLOCK,
        steps: Callable[[str], Sequence[tuple[str, Step]]] | None = None,
    ) -> None:
        self.workspace = workspace
        self.clock = clock
        self.steps = steps
        self.history = history_for(workspace)

    def scheduled(self) -> dict[str, Cron]:
        """Model id -> its parsed schedule, for every model that has one."""
        return {
            model_id: Cron.parse(entry.spec.training.schedule)
            for model_id, entry in sorted(self.workspace.models.items())
            if entry.spec.training.schedule
        }

    def due(self, model_id: str, cron: Cron, now: float) -> float | None:
        """The fire time to run now, or None; remembers a model seen for the first time."""
        last = self.history.last_scheduled(model_id)
        if last is None:
            self.history.mark_seen(model_id, now)
            return None
        fire = cron.previous(now)
        return fire if fire > last else None

    def tick(self) -> list[PipelineResult]:
        """Run every due pipeline once; returns the runs this call made.

        Each model is an edge of its own: what one model's turn raises is logged and the
        other models still run."""
        done: list[PipelineResult] = []
        for model_id, cron in self.scheduled().items():
            try:
                result = self._tick_model(model_id, cron)
            except ModelyardError as exc:
                log.error("scheduled pipeline of %s: %s", model_id, exc)
                continue
            except Exception:
                log.exception("scheduled pipeline of %s: unexpected error", model_id)
                continue
            if result is not None:
                done.append(result)
        return done

    def _tick_model(self, model_id: str, cron: Cron) -> PipelineResult | None:
        now = self.clock.now()
        fire = self.due(model_id, cron, now)
        if fire is None:
            return None
        try:
            return run_pipeline(
                self.workspace,
                model_id,
                steps=self.steps(model_id) if self.steps else None,
                clock=self.clock,
                trigger="schedule",
                scheduled_for=fire,
            )
        except PipelineBusy:
            return None  # another scheduler runs it now


def run_due_pipelines(workspace: Workspace, clock: Clock = SYSTEM_CLOCK) -> list[PipelineResult]:
    """One tick of the workspace's scheduler: the hook ``modelyard up`` calls at start."""
    return Scheduler(workspace, clock=clock).tick()


def start_scheduler(
    workspace: Workspace,
    stop: threading.Event,
    interval_s: float = 30.0,
    scheduler: Scheduler | None = None,
) -> threading.Thread:
    """Tick every ``interval_s`` in a daemon thread until ``stop`` is set (a supervisor's);
    ``scheduler`` is the workspace's own unless given (a test's, on a manual clock)."""
    ticking = scheduler or Scheduler(workspace)

    def loop() -> None:
        while not stop.is_set():
            try:
                ticking.tick()
            except ModelyardError as exc:  # the edge: say it, keep the schedule going
                log.error("scheduled pipelines of %s: %s", workspace.root, exc)
            except Exception:  # a bug: its traceback, and still the next tick
                log.exception("scheduled pipelines of %s: unexpected error", workspace.root)
            stop.wait(interval_s)

    thread = threading.Thread(target=loop, name="modelyard-scheduler", daemon=True)
    thread.start()
    return thread
