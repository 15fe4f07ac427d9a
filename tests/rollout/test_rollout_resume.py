"""Serialised state: a rollout resumed from its stored dict behaves as if never interrupted."""

from __future__ import annotations

import copy
import json

import pytest

from modelyard.rollout import (
    Phase,
    RolloutState,
    RolloutStateError,
    SetCanaryWeight,
    SetShadow,
    Unload,
    UserPause,
    action_to_dict,
    reconcile,
)

NEW = "2"


def _through_json(state: RolloutState) -> RolloutState:
    return RolloutState.from_dict(json.loads(json.dumps(state.to_dict())))


@pytest.mark.parametrize("stop_at", [0, 35, 125, 170, 200, 235])
def test_resumed_rollout_behaves_identically(start_sim, plan, stop_at):
    sim = start_sim(plan)
    sim.run(stop_at)
    twin = copy.deepcopy(sim)
    twin.state = _through_json(sim.state)
    twin.actions = []
    assert twin.state == sim.state
    mark = len(sim.actions)

    sim.run_until(lambda s: s.terminal)
    twin.run_until(lambda s: s.terminal)

    assert twin.actions == sim.actions[mark:]
    assert twin.state == sim.state
    assert twin.state.phase is Phase.PROMOTED


def test_a_rolled_back_state_round_trips_with_its_failed_check(start_sim, plan):
    sim = start_sim(plan, divergence=0.5)
    sim.run_until(lambda s: s.terminal)
    restored = _through_json(sim.state)
    assert restored == sim.state
    assert restored.outcome.failed_check == sim.state.outcome.failed_check


def test_a_paused_state_round_trips(start_sim, plan):
    sim = start_sim(plan)
    sim.run(10)
    sim.send(UserPause(by="ana"))
    assert _through_json(sim.state) == sim.state


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda d: d.update(format=99), "format 99"),
        (lambda d: d.pop("phase"), "unreadable"),
        (lambda d: d.update(phase="sideways"), "unreadable"),
        (lambda d: d["plan"].update(steps=[50, 20]), "unreadable"),
        (lambda d: d["latest"].update(versions=[1]), "unreadable"),
    ],
)
def test_a_damaged_state_is_refused(start_sim, plan, damage, match):
    sim = start_sim(plan)
    sim.run(10)
    data = json.loads(json.dumps(sim.state.to_dict()))
    damage(data)
    with pytest.raises(RolloutStateError, match=match):
        RolloutState.from_dict(data)


@pytest.mark.parametrize(
    ("stop_at", "expected"),
    [
        (10, [SetShadow(NEW)]),
        (160, [SetCanaryWeight(NEW, 25)]),
    ],
)
def test_reconcile_restores_the_routing_of_a_state(start_sim, plan, stop_at, expected):
    sim = start_sim(plan)
    sim.run(stop_at)
    assert list(reconcile(sim.state)) == expected


def test_reconcile_after_the_end(start_sim, plan):
    sim = start_sim(plan, divergence=0.5)
    sim.run_until(lambda s: s.terminal)
    assert reconcile(sim.state) == (Unload(NEW),)


def test_actions_serialise_for_logs():
    assert action_to_dict(SetCanaryWeight(NEW, 25)) == {
        "action": "set_canary_weight",
        "version": NEW,
        "weight": 25,
    }
    assert (
        json.dumps(action_to_dict(SetShadow(None))) == '{"action": "set_shadow", "version": null}'
    )


def test_every_action_of_a_rollout_is_json(start_sim, plan):
    sim = start_sim(plan)
    sim.run_until(lambda s: s.phase is Phase.CANARY and s.step == 2)
    sim.new_error_rate = 0.5
    sim.run_until(lambda s: s.terminal)
    for action in sim.actions:
        json.dumps(action_to_dict(action))
