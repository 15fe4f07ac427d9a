"""The rollout's paths from start to an end: promoted, rolled back, aborted."""

from __future__ import annotations

import pytest

from modelyard.rollout import (
    ERROR_RATE,
    SHADOW_DIVERGENCE,
    LoadFailed,
    LoadVersion,
    Phase,
    Promote,
    RolloutConflict,
    SetCanaryWeight,
    SetShadow,
    Tick,
    Unload,
    UserAbort,
    UserPause,
    UserPromote,
    UserRollback,
    Verdict,
    VersionLoaded,
    new_rollout,
)

OLD, NEW = "1", "2"


def test_happy_path_goes_shadow_then_each_step_then_promotes(start_sim, plan):
    sim = start_sim(plan)

    sim.run_until(lambda s: s.terminal)

    assert sim.state.phase is Phase.PROMOTED
    assert sim.clock.now() == 120 + 4 * 30
    assert sim.route_actions() == [
        LoadVersion(NEW, "shadow"),
        SetShadow(NEW),
        SetShadow(None),
        SetCanaryWeight(NEW, 5),
        SetCanaryWeight(NEW, 25),
        SetCanaryWeight(NEW, 50),
        SetCanaryWeight(NEW, 100),
        Promote(NEW),
        Unload(OLD),
    ]
    assert sim.record_kinds() == [
        "started",
        "loaded",
        "shadow",
        *["analysis"] * 4,
        *["step", "analysis"] * 4,
        "promoted",
    ]
    assert sim.state.routing.primary == NEW
    assert sim.state.outcome is not None
    assert sim.state.outcome.by == "analysis"


def test_error_rate_breach_at_step_two_rolls_back_with_the_check(start_sim, plan):
    sim = start_sim(plan)
    sim.run_until(lambda s: s.phase is Phase.CANARY and s.step == 1)
    sim.new_error_rate = 0.08

    sim.run_until(lambda s: s.terminal)

    assert sim.state.phase is Phase.ROLLED_BACK
    assert sim.route_actions()[-3:] == [
        SetCanaryWeight(NEW, 25),
        SetCanaryWeight(NEW, 0),
        Unload(NEW),
    ]
    assert Unload(OLD) not in sim.actions
    outcome = sim.state.outcome
    assert outcome is not None
    assert outcome.by == "analysis"
    check = outcome.failed_check
    assert check is not None
    assert (check.name, check.verdict, check.threshold) == (ERROR_RATE, Verdict.FAILED, 0.01)
    assert check.value == pytest.approx(0.08, abs=0.005)
    assert check.observed_requests >= check.min_requests == 50
    assert ERROR_RATE in outcome.reason
    assert sim.state.routing.primary == OLD
    assert sim.state.routing.canary_weight == 0


def test_shadow_divergence_breach_never_gets_live_traffic(start_sim, plan):
    sim = start_sim(plan, divergence=0.2)

    sim.run_until(lambda s: s.terminal)

    assert sim.state.phase is Phase.ROLLED_BACK
    assert not [a for a in sim.actions if isinstance(a, SetCanaryWeight) and a.weight > 0]
    assert sim.route_actions()[-2:] == [SetShadow(None), Unload(NEW)]
    check = sim.state.outcome.failed_check
    assert check.name == SHADOW_DIVERGENCE
    assert check.value == pytest.approx(0.2, abs=0.01)
    assert sim.clock.now() == 30  # the first shadow analysis


def test_shadow_errors_roll_back_before_live_traffic(start_sim, plan):
    sim = start_sim(plan, shadow_error_rate=0.5)
    sim.run_until(lambda s: s.terminal)
    assert sim.state.phase is Phase.ROLLED_BACK
    assert sim.state.outcome.failed_check.name == "shadow_error_rate"
    assert not [a for a in sim.actions if isinstance(a, SetCanaryWeight)]


def test_latency_ratio_breach_rolls_back(start_sim, plan):
    sim = start_sim(plan, new_p90=0.4, old_p90=0.1)
    sim.run_until(lambda s: s.terminal)
    check = sim.state.outcome.failed_check
    assert (check.name, check.value) == ("latency_p90_ratio", pytest.approx(4.0))


def test_load_failure_aborts_and_the_old_version_keeps_serving(start_sim, plan):
    sim = start_sim(plan, loaded=False)

    sim.send(LoadFailed(NEW, "checksum mismatch"))

    assert sim.state.phase is Phase.ABORTED
    assert sim.route_actions() == [LoadVersion(NEW, "shadow"), Unload(NEW)]
    assert "checksum mismatch" in sim.state.outcome.reason
    assert sim.state.outcome.by == "loader"
    assert sim.state.routing.primary == OLD


def test_load_that_never_finishes_aborts_at_the_timeout(start_sim, make_plan):
    sim = start_sim(make_plan(load_timeout=60.0), loaded=False)
    sim.clock.advance(59)
    assert not sim.send(Tick()).actions
    sim.clock.advance(1)
    sim.send(Tick())
    assert sim.state.phase is Phase.ABORTED
    assert "did not load within 60 s" in sim.state.outcome.reason
    # the load finishes after all: the stray version is unloaded again
    assert sim.send(VersionLoaded(NEW)).actions == (Unload(NEW),)


def test_no_shadow_goes_straight_to_the_steps(start_sim, make_plan):
    sim = start_sim(make_plan(shadow=None))
    sim.run_until(lambda s: s.terminal)
    assert sim.state.phase is Phase.PROMOTED
    assert not [a for a in sim.actions if isinstance(a, SetShadow)]
    assert sim.route_actions()[:2] == [LoadVersion(NEW, "canary"), SetCanaryWeight(NEW, 5)]
    assert sim.clock.now() == 4 * 30


def test_disabled_rollout_promotes_once_loaded(start_sim, make_plan):
    sim = start_sim(make_plan(progressive=False))
    assert sim.state.phase is Phase.PROMOTED
    assert sim.route_actions() == [LoadVersion(NEW, "canary"), Promote(NEW), Unload(OLD)]


def test_user_promote_skips_to_all_traffic(start_sim, plan):
    sim = start_sim(plan)
    sim.run(40)
    sim.send(UserPromote(by="ana"))
    assert sim.state.phase is Phase.PROMOTED
    assert sim.route_actions()[-3:] == [SetShadow(None), Promote(NEW), Unload(OLD)]
    assert sim.state.outcome.by == "ana"


def test_user_abort_returns_the_traffic(start_sim, plan):
    sim = start_sim(plan)
    sim.run_until(lambda s: s.phase is Phase.CANARY and s.step == 2)
    sim.send(UserAbort(by="ana", reason="wrong features"))
    assert sim.state.phase is Phase.ABORTED
    assert sim.route_actions()[-2:] == [SetCanaryWeight(NEW, 0), Unload(NEW)]
    assert (sim.state.outcome.reason, sim.state.outcome.failed_check) == ("wrong features", None)


def test_user_rollback_records_the_user(start_sim, plan):
    sim = start_sim(plan)
    sim.run_until(lambda s: s.phase is Phase.CANARY)
    sim.send(UserRollback(by="ana"))
    assert sim.state.phase is Phase.ROLLED_BACK
    assert sim.state.outcome.reason == "rolled back by ana"


@pytest.mark.parametrize("command", [UserPromote(), UserPause()])
def test_commands_that_need_a_loaded_version_conflict_while_loading(start_sim, plan, command):
    sim = start_sim(plan, loaded=False)
    with pytest.raises(RolloutConflict, match="is loading"):
        sim.send(command)


@pytest.mark.parametrize("command", [UserPromote(), UserPause(), UserAbort(), UserRollback()])
def test_commands_after_the_end_conflict(start_sim, plan, command):
    sim = start_sim(plan)
    sim.send(UserAbort())
    with pytest.raises(RolloutConflict, match="aborted"):
        sim.send(command)


def test_events_after_the_end_change_nothing(start_sim, plan):
    sim = start_sim(plan)
    sim.run_until(lambda s: s.terminal)
    final = sim.state
    sim.run(100)
    assert sim.send(Tick()).actions == ()
    assert sim.state == final


def test_rolling_out_the_serving_version_conflicts(plan):
    with pytest.raises(RolloutConflict, match="serves already"):
        new_rollout(plan, model="ctr", version=OLD, current=OLD, now=0.0)
