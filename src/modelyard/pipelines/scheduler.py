"""Runs due pipelines on the local backend: ``training.schedule`` is a cron expression.

On each tick, a model whose latest fire time is after its last scheduled run (or after the
scheduler first saw it) is due. A due model runs once, for its latest fire time only, so a
scheduler that was down for three fire times catches up with one run, not three. Two
schedulers (two supervisors, two ``modelyard up``) may tick at once: the model's pipeline lock
lets one run, and the history's unique fire time stops the other from running it again
afterwards. Time comes from an injected clock.
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
        """Run every due pipeline once; returns the runs this call made."""
        done: list[PipelineResult] = []
        for model_id, cron in self.scheduled().items():
            now = self.clock.now()
            fire = self.due(model_id, cron, now)
            if fire is None:
                continue
            try:
                result = run_pipeline(
                    self.workspace,
                    model_id,
                    steps=self.steps(model_id) if self.steps else None,
                    clock=self.clock,
                    trigger="schedule",
                    scheduled_for=fire,
                )
            except PipelineBusy:
                continue  # another scheduler runs it now
            if result is not None:
                done.append(result)
        return done


def run_due_pipelines(workspace: Workspace, clock: Clock = SYSTEM_CLOCK) -> list[PipelineResult]:
    """One tick of the workspace's scheduler: the hook ``modelyard up`` calls at start."""
    return Scheduler(workspace, clock=clock).tick()


def start_scheduler(
    workspace: Workspace, stop: threading.Event, interval_s: float = 30.0
) -> threading.Thread:
    """Tick every ``interval_s`` in a daemon thread until ``stop`` is set (a supervisor's)."""
    scheduler = Scheduler(workspace)

    def loop() -> None:
        while not stop.is_set():
            try:
                scheduler.tick()
            except ModelyardError:  # an edge: log it, keep the schedule going
                log.exception("scheduled pipelines of %s", workspace.root)
            stop.wait(interval_s)

    thread = threading.Thread(target=loop, name="modelyard-scheduler", daemon=True)
    thread.start()
    return thread
