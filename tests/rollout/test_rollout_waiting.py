"""Waiting: inconclusive analysis, late metrics, pause and resume, and time left."""

from __future__ import annotations

import pytest

from modelyard.rollout import (
    Metrics,
    Phase,
    SetCanaryWeight,
    Tick,
    UserPause,
    UserResume,
    Verdict,
)

NEW = "2"


def test_too_few_requests_extend_the_step_then_roll_back(start_sim, make_plan):
    sim = start_sim(make_plan(shadow=None), rps=10)  # 5 % of 10 rps: 15 requests a step

    sim.run_until(lambda s: s.terminal)

    assert sim.state.phase is Phase.ROLLED_BACK
    assert sim.record_kinds().count("extended") == 3
    assert sim.clock.now() == 30 * (1 + 3)
    check = sim.state.outcome.failed_check
    assert check.verdict is Verdict.INCONCLUSIVE
    assert check.observed_requests < check.min_requests
    assert "inconclusive after 3 extra intervals" in sim.state.outcome.reason


def test_inconclusive_steps_advance_when_the_plan_says_so(start_sim, make_plan):
    sim = start_sim(make_plan(shadow=None, on_inconclusive="advance", max_inconclusive=1), rps=1)
    sim.run_until(lambda s: s.terminal)
    assert sim.state.phase is Phase.PROMOTED
    assert sim.clock.now() == 4 * 30 * 2


def test_an_extension_passes_once_enough_requests_arrive(start_sim, make_plan):
    # 5 % of 30 rps: 45 requests in the first interval (too few), 90 after one more
    sim = start_sim(make_plan(shadow=None), rps=30)
    sim.run_until(lambda s: s.step == 1)
    assert sim.record_kinds().count("extended") == 1
    assert sim.clock.now() == 60


def test_analysis_waits_for_metrics_taken_after_it_was_due(start_sim, make_plan):
    sim = start_sim(make_plan(shadow=None))
    sim.run(25)
    sim.clock.set(31)
    assert sim.send(Tick()).actions == ()  # due at 30, but the last snapshot is from 25
    sim.serve(6)
    sim.send(Metrics(sim.snapshot()))
    assert sim.state.step == 1


def test_without_fresh_metrics_the_analysis_runs_one_interval_late(start_sim, make_plan):
    sim = start_sim(make_plan(shadow=None))
    sim.clock.set(59)
    assert sim.send(Tick()).actions == ()
    sim.clock.set(60)
    sim.send(Tick())
    assert sim.state.last_checks[0].verdict is Verdict.INCONCLUSIVE
    assert sim.state.inconclusive == 1
    assert sim.state.phase_ends_at == 90


def test_pause_holds_the_weight_and_resume_keeps_the_time_left(start_sim, plan):
    sim = start_sim(plan)
    sim.run_until(lambda s: s.phase is Phase.CANARY and s.step == 1)
    sim.run(10)
    left = sim.state.time_left(sim.clock.now())
    assert left == 20

    sim.send(UserPause(by="ana"))
    assert sim.state.status == "canary 25% (paused)"
    before = len(sim.route_actions())
    sim.run(600)
    assert len(sim.route_actions()) == before
    assert sim.state.time_left(sim.clock.now()) == left

    sim.send(UserResume(by="ana"))
    sim.run(15)
    assert sim.state.step == 1
    sim.run(5)
    assert sim.state.step == 2
    assert sim.route_actions()[-1] == SetCanaryWeight(NEW, 50)


def test_pause_and_resume_are_idempotent(start_sim, plan):
    sim = start_sim(plan)
    assert sim.send(UserResume()).actions == ()
    sim.send(UserPause())
    assert sim.send(UserPause()).actions == ()
    assert sim.record_kinds().count("paused") == 1


@pytest.mark.parametrize(
    ("elapsed", "left", "total"),
    [(0, 120, 240), (50, 70, 190), (120, 30, 120), (150, 30, 90), (230, 10, 10)],
)
def test_time_left_in_the_phase_and_the_rollout(start_sim, plan, elapsed, left, total):
    sim = start_sim(plan)
    sim.run(elapsed)
    now = sim.clock.now()
    assert (sim.state.time_left(now), sim.state.total_time_left(now)) == (left, total)


def test_no_time_left_while_loading_or_after_the_end(start_sim, plan):
    sim = start_sim(plan, loaded=False)
    assert sim.state.time_left(0) == 600
    assert sim.state.total_time_left(0) is None
    sim.send(Tick())
    sim.clock.set(600)
    sim.send(Tick())
    assert sim.state.time_left(600) is None
