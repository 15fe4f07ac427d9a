"""The errors the rollout state machine raises.

A user command that does not fit the rollout's phase is a ``Conflict`` (the CLI maps it to its
exit code); a stored state or plan that cannot be read back is a ``RolloutStateError``.
"""

from __future__ import annotations

from modelyard.errors import ConfigError, Conflict, StorageError


class RolloutConflict(Conflict):
    """A command that the rollout cannot take in its current phase (promote while loading)."""

    def __init__(self, model: str, phase: str, command: str, hint: str) -> None:
        super().__init__(f"rollout of {model!r} is {phase}: cannot {command}; {hint}")
        self.model = model
        self.phase = phase
        self.command = command


class PlanError(ConfigError):
    """A rollout plan is not coherent (steps not increasing, a zero interval)."""


class RolloutStateError(StorageError):
    """A serialised rollout state cannot be read back: it is damaged or from a newer release."""
