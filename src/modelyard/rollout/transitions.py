"""The moves of a rollout: entering each phase, ending, and judging a due analysis.

Each function takes a state and ``now`` and returns a :class:`Transition`: the next state and
the actions that get the server there. :mod:`modelyard.rollout.machine` picks which move an
event calls for; nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from modelyard.rollout.actions import (
    Action,
    LoadVersion,
    Promote,
    RecordEvent,
    Role,
    SetCanaryWeight,
    SetShadow,
    Unload,
)
from modelyard.rollout.analysis import CheckResult, Verdict, analyse_canary, analyse_shadow, overall
from modelyard.rollout.errors import RolloutConflict
from modelyard.rollout.state import Outcome, Phase, RolloutState

LIVE = frozenset({Phase.SHADOW, Phase.CANARY})
"""Phases in which the new version is loaded and sees traffic (mirrored or live)."""


@dataclass(frozen=True)
class Transition:
    """The state after an event, and what the controller must do to get there.

    Persist ``state`` whenever ``actions`` is not empty (that is a committed step), then carry
    the actions out in order. An empty transition only refreshed the latest metrics.
    """

    state: RolloutState
    actions: tuple[Action, ...] = ()


def bump(state: RolloutState, **changes: Any) -> RolloutState:
    """``state`` with ``changes`` and its sequence number advanced."""
    return replace(state, seq=state.seq + 1, **changes)


def role_of(state: RolloutState) -> Role:
    """The role the new version is loaded in: shadow when the plan has a shadow phase."""
    return "shadow" if state.plan.progressive and state.plan.shadow else "canary"


def require(state: RolloutState, phases: frozenset[Phase], command: str, hint: str) -> None:
    """Raise RolloutConflict unless ``state`` is in one of ``phases``."""
    if state.phase not in phases:
        raise RolloutConflict(state.model, state.phase.value, command, hint)


def start(state: RolloutState, now: float) -> Transition:
    """Pending -> loading: ask for the new version to be loaded in its first role."""
    require(state, frozenset({Phase.PENDING}), "start", "it has started already")
    loading = bump(
        state,
        phase=Phase.LOADING,
        phase_started_at=now,
        phase_ends_at=now + state.plan.load_timeout,
    )
    detail = {"version": state.version, "current": state.current, "plan": state.plan.to_dict()}
    return Transition(
        loading, (RecordEvent("started", detail), LoadVersion(state.version, role_of(state)))
    )


def loaded(state: RolloutState, now: float) -> Transition:
    """Loading -> shadow, first canary step, or (no progressive rollout) promoted."""
    record = RecordEvent("loaded", {"version": state.version})
    if not state.plan.progressive or state.current is None:
        entered = promote(state, now, "promoted at once: no progressive rollout", "plan")
    elif state.plan.shadow:
        entered = enter_shadow(state, now)
    else:
        entered = enter_step(state, 0, now)
    return Transition(entered.state, (record, *entered.actions))


def _phase_fields(state: RolloutState, now: float, ends: float, first: float) -> dict[str, Any]:
    return {
        "phase_started_at": now,
        "phase_ends_at": ends,
        "next_analysis_at": min(first, ends),
        "inconclusive": 0,
        "base": state.latest,
        "last_checks": (),
    }


def enter_shadow(state: RolloutState, now: float) -> Transition:
    plan = state.plan
    ends = now + (plan.shadow or 0.0)
    shadow = bump(state, phase=Phase.SHADOW, **_phase_fields(state, now, ends, now + plan.interval))
    record = RecordEvent("shadow", {"version": state.version, "until": ends})
    return Transition(shadow, (SetShadow(state.version), record))


def enter_step(state: RolloutState, step: int, now: float) -> Transition:
    ends = now + state.plan.interval
    weight = state.plan.steps[step]
    nxt = bump(state, phase=Phase.CANARY, step=step, **_phase_fields(state, now, ends, ends))
    stop_shadow = (SetShadow(None),) if state.phase is Phase.SHADOW else ()
    detail = {"step": step + 1, "of": len(state.plan.steps), "weight": weight, "until": ends}
    return Transition(
        nxt, (*stop_shadow, SetCanaryWeight(state.version, weight), RecordEvent("step", detail))
    )


def _finished(state: RolloutState, phase: Phase, outcome: Outcome) -> RolloutState:
    return bump(
        state,
        phase=phase,
        outcome=outcome,
        paused_at=None,
        phase_ends_at=None,
        next_analysis_at=None,
    )


def promote(state: RolloutState, now: float, reason: str, by: str) -> Transition:
    """-> promoted: the new version takes all traffic and the old one is unloaded."""
    stop_shadow = (SetShadow(None),) if state.phase is Phase.SHADOW else ()
    unload_old = (Unload(state.current),) if state.current else ()
    done = _finished(state, Phase.PROMOTED, Outcome(reason, now, by))
    record = RecordEvent("promoted", {"version": state.version, "reason": reason, "by": by})
    return Transition(done, (*stop_shadow, Promote(state.version), *unload_old, record))


def end(
    state: RolloutState,
    phase: Phase,
    now: float,
    reason: str,
    by: str,
    failed: CheckResult | None = None,
) -> Transition:
    """-> rolled back or aborted: all traffic back to the current version, the new one
    unloaded, and the reason (and failed check) recorded."""
    undo: tuple[Action, ...] = ()
    if state.phase is Phase.SHADOW:
        undo = (SetShadow(None),)
    elif state.phase is Phase.CANARY:
        undo = (SetCanaryWeight(state.version, 0.0),)
    if state.phase is not Phase.PENDING:
        undo = (*undo, Unload(state.version))
    detail = {
        "reason": reason,
        "by": by,
        "from": state.status,
        "failed_check": failed.to_dict() if failed else None,
    }
    done = _finished(state, phase, Outcome(reason, now, by, failed))
    return Transition(done, (*undo, RecordEvent(phase.value, detail)))


def resume(state: RolloutState, now: float, by: str) -> Transition:
    """Unpause, moving the phase's deadlines on by the time spent paused."""
    if state.paused_at is None:
        return Transition(state)
    held = now - state.paused_at
    resumed = bump(
        state,
        paused_at=None,
        phase_ends_at=(state.phase_ends_at or now) + held,
        next_analysis_at=(state.next_analysis_at or now) + held,
    )
    return Transition(resumed, (RecordEvent("resumed", {"by": by, "paused_for": held}),))


def on_time(state: RolloutState, now: float) -> Transition:
    """Enforce the load timeout, and run the analysis that is due, if any."""
    if state.phase is Phase.LOADING:
        if state.phase_ends_at is not None and now >= state.phase_ends_at:
            why = f"version {state.version} did not load within {state.plan.load_timeout:g} s"
            return end(state, Phase.ABORTED, now, why, "loader")
        return Transition(state)
    due = state.next_analysis_at
    if state.phase not in LIVE or state.paused or due is None or now < due:
        return Transition(state)
    fresh = state.latest is not None and state.latest.at >= due
    if not fresh and now < due + state.plan.interval:
        return Transition(state)  # wait for a snapshot that covers the whole interval
    return _analyse(state, now, due)


def _analyse(state: RolloutState, now: float, due: float) -> Transition:
    plan = state.plan
    if state.phase is Phase.SHADOW:
        checks = analyse_shadow(state.base, state.latest, state.version, plan.thresholds)
    else:
        current = state.current or ""
        checks = analyse_canary(state.base, state.latest, state.version, current, plan.thresholds)
    verdict = overall(checks)
    record = RecordEvent(
        "analysis",
        {"phase": state.status, "verdict": verdict.value, "checks": [c.to_dict() for c in checks]},
    )
    judged = bump(state, last_checks=checks)
    ends = state.phase_ends_at if state.phase_ends_at is not None else due
    if verdict is Verdict.FAILED:
        failed = next(c for c in checks if c.verdict is Verdict.FAILED)
        nxt = end(
            judged, Phase.ROLLED_BACK, now, f"check failed: {failed.describe()}", "analysis", failed
        )
    elif due < ends:
        nxt = Transition(replace(judged, next_analysis_at=min(due + plan.interval, ends)))
    elif verdict is Verdict.PASSED:
        nxt = _next_phase(judged, now)
    elif judged.inconclusive < plan.max_inconclusive:
        until = now + plan.interval
        extended = replace(
            judged,
            inconclusive=judged.inconclusive + 1,
            phase_ends_at=until,
            next_analysis_at=until,
        )
        detail = {
            "extra_interval": extended.inconclusive,
            "of": plan.max_inconclusive,
            "until": until,
        }
        nxt = Transition(extended, (RecordEvent("extended", detail),))
    else:
        unsure = next(c for c in checks if c.verdict is Verdict.INCONCLUSIVE)
        if plan.on_inconclusive == "advance":
            nxt = _next_phase(judged, now)
        else:
            why = f"still inconclusive after {plan.max_inconclusive} extra intervals: "
            nxt = end(judged, Phase.ROLLED_BACK, now, why + unsure.describe(), "analysis", unsure)
    return Transition(nxt.state, (record, *nxt.actions))


def _next_phase(state: RolloutState, now: float) -> Transition:
    if state.phase is Phase.SHADOW:
        return enter_step(state, 0, now)
    if state.step + 1 < len(state.plan.steps):
        return enter_step(state, state.step + 1, now)
    return promote(state, now, "every step passed its analysis", "analysis")
