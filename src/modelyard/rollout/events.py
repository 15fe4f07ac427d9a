"""What happens to a rollout: the events the controller feeds the state machine.

The controller turns what it sees (time passing, the server's answers, a user's command) into
one of these and calls :func:`~modelyard.rollout.machine.advance`. Events carry no time of their
own: the machine takes ``now`` alongside each one, from the injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.rollout.metrics import MetricsSnapshot


@dataclass(frozen=True)
class Start:
    """Begin a pending rollout: the machine asks for the new version to be loaded."""


@dataclass(frozen=True)
class Tick:
    """Time passed. Enforces the load timeout and runs an analysis that has waited too long."""


@dataclass(frozen=True)
class VersionLoaded:
    """The server loaded and warmed ``version``; it is ready for traffic."""

    version: str


@dataclass(frozen=True)
class LoadFailed:
    """The server could not load ``version`` (or lost it later): the rollout aborts."""

    version: str
    reason: str


@dataclass(frozen=True)
class Metrics:
    """The server's counters, read at ``snapshot.at``. Also acts as a :class:`Tick`."""

    snapshot: MetricsSnapshot


@dataclass(frozen=True)
class UserPromote:
    """Skip the remaining steps: the new version takes all traffic and the old one unloads."""

    by: str = ""


@dataclass(frozen=True)
class UserPause:
    """Hold the current weight; timers and analysis stop until :class:`UserResume`."""

    by: str = ""


@dataclass(frozen=True)
class UserResume:
    """Continue a paused rollout where it stopped, with the time it had left."""

    by: str = ""


@dataclass(frozen=True)
class UserAbort:
    """Stop the rollout and return all traffic to the current version (outcome: aborted)."""

    by: str = ""
    reason: str = ""


@dataclass(frozen=True)
class UserRollback:
    """Return all traffic to the current version (outcome: rolled back)."""

    by: str = ""
    reason: str = ""


@dataclass(frozen=True)
class ServerCrashed:
    """The model server died and was restarted while the rollout ran (the supervisor saw it).

    It counts against the rollout's phase: shadow, or the canary step, starts its interval
    again, judged only on requests the restarted server answered; the crash is recorded.
    """

    reason: str = ""


Event = (
    Start
    | Tick
    | VersionLoaded
    | LoadFailed
    | Metrics
    | UserPromote
    | UserPause
    | UserResume
    | UserAbort
    | UserRollback
    | ServerCrashed
)
"""Every event the machine takes."""
