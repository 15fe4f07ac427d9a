"""The supervisor's restart backoff, "stable after" and giving up, on a manual clock.

The supervisor runs in this process with its real state store; only the server process is a
stand-in (``StandIn``: up until the test kills it), since what is under test is when the
supervisor starts one, not the server. Time moves only when the test moves it: nothing sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from modelyard.backends.local.records import Deployment
from modelyard.backends.local.supervisor import (
    BACKOFF_MAX,
    BACKOFF_START,
    STABLE_AFTER,
    Server,
    Supervisor,
)
from modelyard.clock import ManualClock
from modelyard.config import Workspace
from modelyard.errors import Unavailable

MODEL = "ctr"


@dataclass
class StandIn:
    """A started server that answers until :meth:`kill`."""

    port: int
    pid: int = 1
    log_path: Path | None = None
    dead: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float = 60.0) -> float:
        return 0.0

    def alive(self) -> bool:
        return not self.dead

    def returncode(self) -> int | None:
        return -9 if self.dead else None

    def exit_note(self) -> str:
        return " (killed by signal 9)" if self.dead else ""

    def stop(self, grace_s: float = 10.0) -> int | None:
        self.dead = True
        return self.returncode()

    def kill(self) -> None:
        self.dead = True


class CannotFetch(Unavailable):
    """The version could not be fetched (what a start that fails early raises)."""


class Supervised(Supervisor):
    """A supervisor whose server starts are stand-ins, counted, or refused when told."""

    def __init__(self, workspace: Workspace, clock: ManualClock, max_failures: int = 5) -> None:
        super().__init__(workspace, MODEL, max_start_failures=max_failures, clock=clock)
        self.started: list[StandIn] = []
        self.refuse = False

    def _launch(self, version: int, port: int) -> Server:
        if self.refuse:
            raise CannotFetch("version 1 cannot be fetched now")
        server = StandIn(port)
        self.started.append(server)
        return server  # type: ignore[return-value]


@pytest.fixture
def supervised(workspace: Workspace) -> tuple[Supervised, ManualClock]:
    clock = ManualClock(1000.0)
    supervisor = Supervised(workspace, clock)
    supervisor.store.add_revision(MODEL, "1", outcome="active", by="test")
    supervisor.store.upsert_deployment(Deployment(MODEL, "stopped", primary_version="1"))
    return supervisor, clock


TICK = 1 / 64
"""A step of the clock that binary floating point adds exactly to the backoffs."""


def _starts_at(supervisor: Supervised, clock: ManualClock, wait_s: float) -> None:
    """The server just died: it is noticed now, not restarted before ``wait_s``, then is."""
    count = len(supervisor.started)
    assert supervisor.keep_alive() is False
    assert supervisor.store.get_deployment(MODEL).status == "restarting"  # type: ignore[union-attr]
    clock.advance(wait_s - TICK)
    assert supervisor.keep_alive() is False
    assert len(supervisor.started) == count
    clock.advance(TICK)
    assert supervisor.keep_alive() is True
    assert len(supervisor.started) == count + 1


def test_early_deaths_double_the_wait_and_a_stable_server_resets_it(
    supervised: tuple[Supervised, ManualClock],
) -> None:
    supervisor, clock = supervised
    assert supervisor.keep_alive() is True
    assert supervisor.store.get_deployment(MODEL).status == "serving"  # type: ignore[union-attr]

    for wait_s in (BACKOFF_START, 2 * BACKOFF_START, 4 * BACKOFF_START):
        supervisor.started[-1].kill()  # dies at once: an early death
        _starts_at(supervisor, clock, wait_s)
    assert supervisor._failures == 3

    clock.advance(STABLE_AFTER + 1)  # up long enough: the next death starts from the bottom
    assert supervisor.keep_alive() is True
    assert supervisor._failures == 0
    supervisor.started[-1].kill()
    _starts_at(supervisor, clock, BACKOFF_START)
    assert supervisor._failures == 0  # it died after STABLE_AFTER: not counted
    exits = [e for e in supervisor.store.events(MODEL) if e.kind == "server_exited"]
    assert len(exits) == 4
    assert exits[-1].detail["reason"] == "killed by signal 9 (SIGKILL)"


def test_the_wait_stops_growing_at_its_ceiling(
    supervised: tuple[Supervised, ManualClock],
) -> None:
    supervisor, clock = supervised
    supervisor.max_start_failures = 100
    assert supervisor.keep_alive() is True
    wait_s = BACKOFF_START
    while wait_s < BACKOFF_MAX:
        supervisor.started[-1].kill()
        _starts_at(supervisor, clock, wait_s)
        wait_s = min(2 * wait_s, BACKOFF_MAX)
    for _ in range(2):
        supervisor.started[-1].kill()
        _starts_at(supervisor, clock, BACKOFF_MAX)


def test_failed_starts_back_off_then_give_up_and_say_why(
    supervised: tuple[Supervised, ManualClock],
) -> None:
    supervisor, clock = supervised
    supervisor.max_start_failures = 3
    supervisor.refuse = True
    assert supervisor.keep_alive() is False  # first failure: retried after BACKOFF_START
    clock.advance(BACKOFF_START - TICK)
    assert supervisor.keep_alive() is False
    assert supervisor._failures == 1
    clock.advance(TICK)
    assert supervisor.keep_alive() is False
    assert supervisor._failures == 2
    assert not supervisor.gave_up
    clock.advance(2 * BACKOFF_START)
    assert supervisor.keep_alive() is False
    assert supervisor.gave_up
    assert supervisor.stopping
    deployment = supervisor.store.get_deployment(MODEL)
    assert deployment is not None
    assert deployment.status == "failed"
    (gave_up,) = [e for e in supervisor.store.events(MODEL) if e.kind == "gave_up"]
    assert "cannot be fetched" in gave_up.detail["reason"]
    assert gave_up.detail["start_failures"] == 3
    assert supervisor.started == []
