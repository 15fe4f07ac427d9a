"""The one clock seam: every part of modelyard that reads the time takes a :class:`Clock`.

Two readings, because they answer different questions: :meth:`Clock.now` is wall time
(seconds since the epoch: what is persisted, compared with a cron schedule or shown to a
person), :meth:`Clock.monotonic` never goes back (intervals, deadlines, backoff). Code takes
``clock: Clock = SYSTEM_CLOCK``; tests pass a :class:`ManualClock` and move it by hand, so a
backoff, a rollout step or a schedule is tested in milliseconds and fails only when the logic
is wrong. Sleeping is not the clock's business: a loop sleeps, the step it repeats reads the
clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    """Something that tells the time, in seconds."""

    def now(self) -> float:
        """Wall time: seconds since the epoch (what is stored and shown)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (what intervals are measured on)."""
        ...


class SystemClock:
    """The machine's clocks: :func:`time.time` and :func:`time.monotonic`."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


SYSTEM_CLOCK: Clock = SystemClock()
"""The default of every ``clock`` parameter."""


@dataclass
class ManualClock:
    """A clock that moves only when told to: the test double of :class:`Clock`.

    Both readings are ``at``: a test moves one time line, and every interval measured on it
    is exactly what the test advanced."""

    at: float = 0.0

    def now(self) -> float:
        """The time the clock was last set or advanced to."""
        return self.at

    def monotonic(self) -> float:
        """The same as :meth:`now`: a manual clock never goes back either."""
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
