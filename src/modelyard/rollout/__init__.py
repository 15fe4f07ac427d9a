"""Rollout: the pure state machine of progressive delivery, and its analysis of metrics.

``advance(state, event, now)`` takes an event (time passing, the server's answers, a user's
command) and returns the next :class:`RolloutState` with the :data:`Action` list the controller
carries out on the model server. No I/O, no threads, no clock of its own: the time comes in
with each call, or from the :class:`~modelyard.clock.Clock` a :class:`RolloutMachine` is given.
"""

from __future__ import annotations

from modelyard.rollout.actions import (
    Action,
    LoadVersion,
    Promote,
    RecordEvent,
    Role,
    SetCanaryWeight,
    SetShadow,
    Unload,
    action_to_dict,
)
from modelyard.rollout.analysis import (
    ERROR_RATE,
    LATENCY_P90_RATIO,
    SHADOW_DIVERGENCE,
    SHADOW_ERROR_RATE,
    CheckResult,
    Verdict,
    analyse_canary,
    analyse_shadow,
    overall,
)
from modelyard.rollout.errors import PlanError, RolloutConflict, RolloutStateError
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
from modelyard.rollout.machine import RolloutMachine, advance, new_rollout, reconcile
from modelyard.rollout.metrics import MetricsSnapshot, ShadowStats, VersionStats
from modelyard.rollout.plan import RolloutPlan, Thresholds
from modelyard.rollout.state import TERMINAL, Outcome, Phase, RolloutState, Routing
from modelyard.rollout.transitions import Transition

__all__ = [
    "ERROR_RATE",
    "LATENCY_P90_RATIO",
    "SHADOW_DIVERGENCE",
    "SHADOW_ERROR_RATE",
    "TERMINAL",
    "Action",
    "CheckResult",
    "Event",
    "LoadFailed",
    "LoadVersion",
    "Metrics",
    "MetricsSnapshot",
    "Outcome",
    "Phase",
    "PlanError",
    "Promote",
    "RecordEvent",
    "Role",
    "RolloutConflict",
    "RolloutMachine",
    "RolloutPlan",
    "RolloutState",
    "RolloutStateError",
    "Routing",
    "ServerCrashed",
    "SetCanaryWeight",
    "SetShadow",
    "ShadowStats",
    "Start",
    "Thresholds",
    "Tick",
    "Transition",
    "Unload",
    "UserAbort",
    "UserPause",
    "UserPromote",
    "UserResume",
    "UserRollback",
    "Verdict",
    "VersionLoaded",
    "VersionStats",
    "action_to_dict",
    "advance",
    "analyse_canary",
    "analyse_shadow",
    "new_rollout",
    "overall",
    "reconcile",
]
