"""The local scheduler on a manual clock: a due pipeline runs once, never twice at once, and
catches up once after downtime."""

from __future__ import annotations

import threading

from pipeline_fakes import DAY, T0, RecordingSteps

from modelyard.clock import ManualClock
from modelyard.config import Workspace
from modelyard.pipelines import Cron, Scheduler, run_pipeline


def test_cron_previous_fire() -> None:
    cron = Cron.parse("0 3 * * *")
    assert cron.previous(T0 + 3 * 3600) == T0 + 3 * 3600
    assert cron.previous(T0 + 3 * 3600 - 1) == T0 - DAY + 3 * 3600
    assert Cron.parse("*/15 * * * *").previous(T0 + 1000) == T0 + 900


def test_a_due_pipeline_runs_once(scheduled_ws: Workspace) -> None:
    clock, steps = ManualClock(T0), RecordingSteps()
    scheduler = Scheduler(scheduled_ws, clock=clock, steps=steps)
    assert scheduler.tick() == []  # first sight: nothing from before it runs
    clock.set(T0 + 2 * 3600)
    assert scheduler.tick() == []  # 02:00, not due yet
    clock.set(T0 + 3 * 3600 + 5)
    (run,) = scheduler.tick()
    assert run.ok
    assert run.record.scheduled_for == T0 + 3 * 3600
    assert steps.calls == ["train", "evaluate", "gate", "register", "deploy"]
    clock.set(T0 + 5 * 3600)
    assert scheduler.tick() == []
    assert steps.calls.count("train") == 1


def test_two_schedulers_racing_run_it_once(scheduled_ws: Workspace) -> None:
    clock, steps = ManualClock(T0), RecordingSteps()
    first = Scheduler(scheduled_ws, clock=clock, steps=steps)
    second = Scheduler(scheduled_ws, clock=clock, steps=steps)
    first.tick()
    clock.set(T0 + 4 * 3600)
    steps.release.clear()
    results: list[object] = []
    racer = threading.Thread(target=lambda: results.extend(first.tick()))
    racer.start()
    assert steps.entered.wait(30)  # the first is inside its train step, holding the lock
    assert second.tick() == []
    steps.release.set()
    racer.join(30)
    assert len(results) == 1
    assert second.tick() == []  # finished: the fire time is taken
    assert steps.calls.count("train") == 1


def test_catch_up_after_downtime_runs_once(scheduled_ws: Workspace) -> None:
    clock, steps = ManualClock(T0), RecordingSteps()
    Scheduler(scheduled_ws, clock=clock, steps=steps).tick()
    clock.set(T0 + 3 * DAY + 12 * 3600)  # down for three 03:00 fire times
    restarted = Scheduler(scheduled_ws, clock=clock, steps=steps)
    (run,) = restarted.tick()
    assert run.record.scheduled_for == T0 + 3 * DAY + 3 * 3600  # the latest only
    assert restarted.tick() == []
    assert steps.calls.count("train") == 1


def test_a_failed_step_stops_the_run(scheduled_ws: Workspace) -> None:
    clock, steps = ManualClock(T0), RecordingSteps()
    steps.fail_gate = True
    result = run_pipeline(scheduled_ws, "ctr", steps=steps("ctr"), clock=clock)
    assert result is not None
    assert not result.ok
    outcome = {s.name: s.status for s in result.record.steps}
    assert outcome == {
        "train": "ok",
        "evaluate": "ok",
        "gate": "failed",
        "register": "skipped",
        "deploy": "skipped",
    }
    assert "against production" in result.record.steps[2].detail
    assert "register" not in steps.calls
