"""The clock seam of the rollout: the only source of "now" the state machine sees.

The machine itself never reads the time; :class:`~modelyard.rollout.machine.RolloutMachine`
asks an injected :class:`Clock`. The controller passes a wall clock (seconds since the epoch,
so that a persisted state still means something after a restart); tests pass
:class:`ManualClock` and move it by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    """Something that tells the time, in seconds."""

    def now(self) -> float:
        """The current time in seconds (the epoch for a wall clock)."""
        ...


@dataclass
class ManualClock:
    """A clock that moves only when told to: the test double of :class:`Clock`."""

    at: float = 0.0

    def now(self) -> float:
        """The time the clock was last set or advanced to."""
        return self.at

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` and return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back ({seconds} s)")
        self.at += seconds
        return self.at

    def set(self, at: float) -> None:
        """Set the clock to ``at`` (forward only)."""
        if at < self.at:
            raise ValueError(f"a clock cannot go back from {self.at} to {at}")
        self.at = at
