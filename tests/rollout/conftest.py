"""A simulated model server for the rollout tests: traffic that follows the state's routing.

``Sim`` keeps cumulative counters like the real stats endpoint, moves a ManualClock, and feeds
the machine Metrics snapshots; every action the machine returns is kept in ``actions``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from modelyard.clock import ManualClock
from modelyard.rollout import (
    Action,
    Event,
    Metrics,
    MetricsSnapshot,
    RecordEvent,
    RolloutMachine,
    RolloutPlan,
    RolloutState,
    ShadowStats,
    Thresholds,
    Transition,
    VersionLoaded,
    VersionStats,
)

OLD = "1"
NEW = "2"


@dataclass
class Sim:
    """The server side of a rollout: answers requests per the state's routing."""

    clock: ManualClock
    state: RolloutState
    rps: int = 100
    new_error_rate: float = 0.0
    new_p90: float = 0.10
    old_p90: float = 0.10
    divergence: float = 0.0
    shadow_error_rate: float = 0.0
    actions: list[Action] = field(default_factory=list)
    counts: dict[str, list[int]] = field(default_factory=lambda: {OLD: [0, 0], NEW: [0, 0]})
    mirrored: list[int] = field(default_factory=lambda: [0, 0, 0])

    @property
    def machine(self) -> RolloutMachine:
        return RolloutMachine(self.clock)

    def send(self, event: Event) -> Transition:
        transition = self.machine.handle(self.state, event)
        self.state = transition.state
        self.actions.extend(transition.actions)
        return transition

    def serve(self, seconds: float) -> None:
        total = int(self.rps * seconds)
        routing = self.state.routing
        to_new = int(total * routing.canary_weight / 100) if routing.canary == NEW else 0
        if routing.primary == NEW:
            to_new = total
        self.counts[OLD][0] += total - to_new
        self.counts[NEW][0] += to_new
        self.counts[NEW][1] += round(to_new * self.new_error_rate)
        if routing.shadow == NEW:
            errors = round(total * self.shadow_error_rate)
            compared = total - errors
            self.mirrored[0] += compared
            self.mirrored[1] += round(compared * self.divergence)
            self.mirrored[2] += errors

    def snapshot(self) -> MetricsSnapshot:
        return MetricsSnapshot(
            at=self.clock.now(),
            versions={
                OLD: VersionStats(*self.counts[OLD], latency_p90=self.old_p90),
                NEW: VersionStats(*self.counts[NEW], latency_p90=self.new_p90),
            },
            shadow={NEW: ShadowStats(*self.mirrored)},
        )

    def run(self, seconds: float, every: float = 5.0) -> None:
        """Let ``seconds`` pass, reporting metrics every ``every`` seconds."""
        end = self.clock.now() + seconds
        while self.clock.now() < end and not self.state.terminal:
            self.clock.advance(every)
            self.serve(every)
            self.send(Metrics(self.snapshot()))

    def run_until(self, done: Callable[[RolloutState], bool], limit: float = 3600.0) -> None:
        """Run until ``done(state)`` or the rollout ends; fails the test past ``limit`` s."""
        start = self.clock.now()
        while not done(self.state) and not self.state.terminal:
            assert self.clock.now() - start < limit, f"stuck in {self.state.status}"
            self.run(5.0)

    def route_actions(self) -> list[Action]:
        """The actions other than RecordEvent, in order."""
        return [a for a in self.actions if not isinstance(a, RecordEvent)]

    def record_kinds(self) -> list[str]:
        return [a.kind for a in self.actions if isinstance(a, RecordEvent)]


def make_plan(**changes: object) -> RolloutPlan:
    """The issue's plan: shadow 2m, steps 5/25/50/100, interval 30s, default thresholds."""
    fields: dict[str, object] = {
        "steps": (5.0, 25.0, 50.0, 100.0),
        "interval": 30.0,
        "shadow": 120.0,
        "thresholds": Thresholds(),
    }
    fields.update(changes)
    return RolloutPlan(**fields)  # type: ignore[arg-type]


def start_sim(plan: RolloutPlan, *, loaded: bool = True, **traffic: object) -> Sim:
    """A rollout of NEW over OLD started at t=0 (and loaded at t=0 unless ``loaded=False``)."""
    clock = ManualClock()
    transition = RolloutMachine(clock).start(plan, model="ctr", version=NEW, current=OLD)
    sim = Sim(clock, transition.state, actions=list(transition.actions), **traffic)  # type: ignore[arg-type]
    if loaded:
        sim.send(VersionLoaded(NEW))
    return sim


@pytest.fixture
def plan() -> RolloutPlan:
    return make_plan()


@pytest.fixture(name="make_plan")
def make_plan_fixture() -> Callable[..., RolloutPlan]:
    return make_plan


@pytest.fixture(name="start_sim")
def start_sim_fixture() -> Callable[..., Sim]:
    return start_sim
