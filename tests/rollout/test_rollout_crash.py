"""A server crash during a rollout counts against the phase: its interval starts again.

The rule: on ``ServerCrashed`` in shadow or a canary step, the phase starts its interval anew
(same step and weight), and its analysis judges only requests the restarted server answered;
the crash is in the history. Paused phases only forget the requests before the crash.
"""

from __future__ import annotations

from conftest import NEW, OLD, start_sim
from modelyard.rollout import Metrics, Phase, RecordEvent, ServerCrashed, SetCanaryWeight


def _crash(sim) -> None:  # type: ignore[no-untyped-def]
    """The server dies: its counters start again from zero."""
    sim.counts = {OLD: [0, 0], NEW: [0, 0]}
    sim.send(ServerCrashed(reason="the server (pid 7) died: exit code -9"))


def test_a_crash_in_a_canary_step_restarts_the_step_interval(make_plan):
    sim = start_sim(make_plan(shadow=None, steps=(25.0, 50.0, 100.0)))
    assert sim.state.phase is Phase.CANARY
    first_end = sim.state.phase_ends_at
    sim.run(20.0)
    _crash(sim)
    crashed_at = sim.clock.now()
    assert (sim.state.phase, sim.state.step) == (Phase.CANARY, 0)
    assert sim.state.phase_ends_at == crashed_at + 30.0 > first_end
    assert sim.state.base is None
    kinds = [a for a in sim.actions if isinstance(a, RecordEvent)]
    crash = kinds[-1]
    assert crash.kind == "server_crashed"
    assert crash.detail["step"] == 1
    assert crash.detail["weight"] == 25.0
    assert crash.detail["restarted_until"] == crashed_at + 30.0
    assert sim.actions[-1] == SetCanaryWeight(NEW, 25.0)
    # at the step's original end, nothing advances: the restarted interval is not over
    sim.run(first_end - crashed_at + 1)
    assert (sim.state.phase, sim.state.step) == (Phase.CANARY, 0)
    sim.run_until(lambda s: s.step == 1)
    assert sim.clock.now() >= crashed_at + 30.0


def test_failures_after_the_crash_are_judged_on_the_restarted_window(make_plan):
    sim = start_sim(make_plan(shadow=None, steps=(25.0, 100.0)), new_error_rate=0.0)
    sim.run(20.0)
    _crash(sim)
    sim.new_error_rate = 0.5  # the version that came back is failing
    sim.run_until(lambda s: s.terminal)
    assert sim.state.phase is Phase.ROLLED_BACK
    assert sim.state.outcome is not None
    assert sim.state.outcome.failed_check is not None


def test_a_crash_while_paused_is_recorded_and_keeps_the_time_left(make_plan):
    from modelyard.rollout import UserPause

    sim = start_sim(make_plan(shadow=None))
    sim.run(10.0)
    sim.send(UserPause(by="me"))
    ends = sim.state.phase_ends_at
    seq = sim.state.seq
    _crash(sim)
    assert sim.state.paused
    assert sim.state.phase_ends_at == ends
    assert sim.state.seq == seq + 1
    assert sim.record_kinds()[-1] == "server_crashed"
    sim.send(Metrics(sim.snapshot()))
