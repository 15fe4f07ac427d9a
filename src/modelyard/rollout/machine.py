"""The rollout state machine: ``advance(state, event, now)`` returns the next state and actions.

Pure: no I/O, no threads, no clock of its own. The controller feeds it events, persists the
new state when a transition carries actions, then carries the actions out on the server.
Analysis runs when an interval is due and a snapshot taken at or after that moment has
arrived (or, if none comes, one interval later on whatever the machine last saw).
"""

from __future__ import annotations

from dataclasses import replace

from modelyard.clock import Clock
from modelyard.rollout.actions import (
    Action,
    LoadVersion,
    Promote,
    RecordEvent,
    SetCanaryWeight,
    SetShadow,
    Unload,
)
from modelyard.rollout.errors import RolloutConflict
from modelyard.rollout.events import (
    Event,
    LoadFailed,
    Metrics,
    ServerCrashed,
    Start,
    Tick,
    UserAbort,
    UserPause,
    UserPromote,
    UserResume,
    UserRollback,
    VersionLoaded,
)
from modelyard.rollout.plan import RolloutPlan
from modelyard.rollout.state import Phase, RolloutState
from modelyard.rollout.transitions import (
    LIVE,
    Transition,
    bump,
    end,
    enter_shadow,
    enter_step,
    loaded,
    on_time,
    promote,
    require,
    resume,
    role_of,
    start,
)


def new_rollout(
    plan: RolloutPlan, *, model: str, version: str, current: str | None, now: float
) -> RolloutState:
    """A pending rollout of ``version`` replacing ``current``; send it :class:`Start`."""
    if version == current:
        raise RolloutConflict(model, "serving", f"roll out version {version}", "it serves already")
    return RolloutState(model=model, version=version, current=current, plan=plan, created_at=now)


def advance(state: RolloutState, event: Event, now: float) -> Transition:
    """Apply ``event`` at time ``now``. User commands that do not fit raise RolloutConflict."""
    if state.terminal:
        return _after_end(state, event)
    match event:
        case Start():
            return start(state, now)
        case Tick():
            return on_time(state, now)
        case Metrics(snapshot=snapshot):
            return on_time(replace(state, latest=snapshot), now)
        case VersionLoaded(version=version):
            return loaded(state, now) if _loading(state, version) else Transition(state)
        case LoadFailed(version=version, reason=reason):
            if version != state.version or state.phase is Phase.PENDING:
                return Transition(state)
            why = f"version {version} failed: {reason}"
            return end(state, Phase.ABORTED, now, why, "loader")
        case UserPromote(by=by):
            require(state, LIVE, "promote", "wait until the new version is loaded")
            return promote(state, now, f"promoted by {by or 'a user'}", by)
        case UserPause(by=by):
            require(state, LIVE, "pause", "wait until the new version is loaded, or abort")
            if state.paused:
                return Transition(state)
            return Transition(bump(state, paused_at=now), (RecordEvent("paused", {"by": by}),))
        case UserResume(by=by):
            return resume(state, now, by)
        case UserAbort(by=by, reason=reason):
            return end(state, Phase.ABORTED, now, reason or f"aborted by {by or 'a user'}", by)
        case UserRollback(by=by, reason=reason):
            why = reason or f"rolled back by {by or 'a user'}"
            return end(state, Phase.ROLLED_BACK, now, why, by)
        case ServerCrashed(reason=reason):
            return _crashed(state, now, reason)
    raise TypeError(f"not a rollout event: {event!r}")  # pragma: no cover - exhaustive


class RolloutMachine:
    """:func:`advance` with the time taken from an injected :class:`Clock`."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def start(
        self, plan: RolloutPlan, *, model: str, version: str, current: str | None
    ) -> Transition:
        """A new rollout, started: loading ``version``."""
        now = self.clock.now()
        state = new_rollout(plan, model=model, version=version, current=current, now=now)
        return advance(state, Start(), now)

    def handle(self, state: RolloutState, event: Event) -> Transition:
        """Apply ``event`` now."""
        return advance(state, event, self.clock.now())


def reconcile(state: RolloutState) -> tuple[Action, ...]:
    """The server actions that restore ``state``'s routing, e.g. after a restart. Idempotent."""
    if state.phase is Phase.LOADING:
        return (LoadVersion(state.version, role_of(state)),)
    if state.phase is Phase.SHADOW:
        return (SetShadow(state.version),)
    if state.phase is Phase.CANARY:
        return (SetCanaryWeight(state.version, state.weight),)
    if state.phase is Phase.PROMOTED:
        old = (Unload(state.current),) if state.current else ()
        return (Promote(state.version), *old)
    if state.phase in (Phase.ROLLED_BACK, Phase.ABORTED):
        return (Unload(state.version),)
    return ()


def _loading(state: RolloutState, version: str) -> bool:
    return state.phase is Phase.LOADING and version == state.version


def _crashed(state: RolloutState, now: float, reason: str) -> Transition:
    """A server crash counts against the phase: its interval starts again, from zero requests.

    Loading and pending phases only record it (the load is re-sent by ``reconcile``); a paused
    phase keeps its time left but forgets the requests before the crash.
    """
    detail: dict[str, object] = {"phase": state.phase.value, "reason": reason}
    if state.phase is Phase.CANARY:
        detail |= {"step": state.step + 1, "weight": state.weight}
    fresh = replace(state, latest=None)  # windows measured from the restarted server's zero
    if state.phase not in LIVE or state.paused:
        return Transition(bump(fresh, base=None), (RecordEvent("server_crashed", detail),))
    if state.phase is Phase.SHADOW:
        entered = enter_shadow(fresh, now)
    else:
        entered = enter_step(fresh, state.step, now)
    detail["restarted_until"] = entered.state.phase_ends_at
    actions = [a for a in entered.actions if not isinstance(a, RecordEvent)]
    return Transition(entered.state, (RecordEvent("server_crashed", detail), *actions))


def _after_end(state: RolloutState, event: Event) -> Transition:
    if isinstance(event, UserPromote | UserPause | UserResume | UserAbort | UserRollback | Start):
        hint = "start a new rollout, or roll back to the previous revision"
        raise RolloutConflict(state.model, state.phase.value, _command(event), hint)
    stray = isinstance(event, VersionLoaded) and event.version == state.version
    if stray and state.phase is not Phase.PROMOTED:
        return Transition(state, (Unload(state.version),))  # a load that finished too late
    return Transition(state)


def _command(event: Event) -> str:
    return type(event).__name__.removeprefix("User").lower()
