"""The scheduler never dies: an unexpected exception inside a pipeline run fails that run (in
the history, with where its traceback is), and the scheduler thread goes on to the next due
run. The pipeline history turns SQLite's errors into modelyard errors that say what to do."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_fakes import DAY, T0, RecordingSteps
from typer.testing import CliRunner

from modelyard.cli.app import app
from modelyard.clock import ManualClock
from modelyard.config import Workspace
from modelyard.pipelines import PipelineHistory, RunRecord, Scheduler, start_scheduler
from modelyard.pipelines.engine import history_for, pipeline_log
from modelyard.pipelines.history import HistoryUnusable
from waiting import wait_until

FIRST_FIRE = T0 + 3 * 3600  # the fixture's schedule: 03:00 every day


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def _runs(workspace: Workspace) -> list[RunRecord]:
    return history_for(workspace).runs("ctr")


def _finished(workspace: Workspace, count: int) -> list[RunRecord]:
    runs = _runs(workspace)
    done = [r for r in runs if r.status != "running"]
    return done if len(done) >= count else []


def test_a_bug_in_a_run_fails_it_and_the_next_due_run_happens(
    scheduled_ws: Workspace, stop: threading.Event
) -> None:
    clock, steps = ManualClock(T0), RecordingSteps()
    history_for(scheduled_ws).mark_seen("ctr", T0)  # scheduling began at midnight
    steps.crash = "evaluate"
    clock.set(FIRST_FIRE + 60)
    scheduler = Scheduler(scheduled_ws, clock=clock, steps=steps)
    thread = start_scheduler(scheduled_ws, stop, interval_s=0.02, scheduler=scheduler)

    (failed,) = wait_until(lambda: _finished(scheduled_ws, 1), "the crashed run to be recorded")
    assert failed.status == "failed"
    assert failed.scheduled_for == FIRST_FIRE
    outcome = {s.name: s.status for s in failed.steps}
    assert outcome == {
        "train": "ok",
        "evaluate": "failed",
        "gate": "skipped",
        "register": "skipped",
        "deploy": "skipped",
    }
    detail = next(s.detail for s in failed.steps if s.name == "evaluate")
    log = pipeline_log(scheduled_ws)
    assert detail == (
        f"unexpected error RuntimeError: a bug in the evaluate step (traceback in {log})"
    )
    assert "RuntimeError: a bug in the evaluate step" in log.read_text()
    assert thread.is_alive()

    clock.set(FIRST_FIRE + DAY + 60)  # the next day's 03:00 is due
    newest, crashed = wait_until(lambda: _finished(scheduled_ws, 2), "the next due run")
    assert newest.status == "ok"
    assert newest.scheduled_for == FIRST_FIRE + DAY
    assert crashed.id == failed.id
    assert thread.is_alive()
    stop.set()
    thread.join(30)
    assert not thread.is_alive()


def test_a_tick_that_raises_outside_a_run_does_not_stop_the_scheduler(
    scheduled_ws: Workspace, stop: threading.Event
) -> None:
    clock, steps = ManualClock(T0), RecordingSteps()
    history_for(scheduled_ws).mark_seen("ctr", T0)
    clock.set(FIRST_FIRE + 60)
    calls: list[str] = []

    def flaky_steps(model_id: str) -> list[tuple[str, object]]:
        calls.append(model_id)
        if len(calls) == 1:
            raise KeyError("a bug before the run starts")
        return steps(model_id)

    scheduler = Scheduler(scheduled_ws, clock=clock, steps=flaky_steps)  # type: ignore[arg-type]
    thread = start_scheduler(scheduled_ws, stop, interval_s=0.02, scheduler=scheduler)
    (run,) = wait_until(lambda: _finished(scheduled_ws, 1), "the run after the failed tick")
    assert run.status == "ok"
    assert run.scheduled_for == FIRST_FIRE
    assert len(calls) >= 2
    assert thread.is_alive()


def test_a_damaged_history_is_a_storage_error_that_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "pipelines.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(HistoryUnusable) as caught:
        PipelineHistory(path)
    message = str(caught.value)
    assert str(path) in message
    assert "move it aside" in message
    assert caught.value.exit_code == 9


def test_a_history_that_cannot_be_opened_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "pipelines.db"
    path.mkdir()  # a folder where the database should be
    with pytest.raises(HistoryUnusable, match=r"pipelines\.db"):
        PipelineHistory(path)


def test_the_cli_reports_a_damaged_history_in_one_line(scheduled_ws: Workspace) -> None:
    db = scheduled_ws.state_dir / "pipelines.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"garbage" * 1000)
    result = CliRunner().invoke(app, ["pipeline", "history", "ctr", "-w", str(scheduled_ws.root)])
    assert result.exit_code == 9, result.output
    assert "cannot be used" in result.output
    assert "Traceback" not in result.output
