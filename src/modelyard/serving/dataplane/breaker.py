"""The circuit breaker and load shedder of one model: 503 with Retry-After instead of collapse.

Shedding: at most ``max_in_flight`` requests run; the rest wait for a slot up to
``queue_timeout`` and are then shed (reason ``queue_timeout``).

Breaker states (``modelyard_breaker_state`` 0/1/2):

* ``closed`` — requests pass; outcomes are kept for ``window`` seconds. When at least
  ``min_requests`` were seen and the share of failures reaches ``error_rate``, it opens.
* ``open`` — every request is shed (reason ``breaker_open``) for ``cooldown`` seconds.
* ``half_open`` — one probe request passes, others are shed; the probe's success closes the
  breaker (with a fresh window), its failure opens it for another cooldown.

Only model failures (5xx) count as failures; bad requests and refusals do not.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from modelyard.serving.options import BreakerOptions
from modelyard.serving.protocol.errors import Shed

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATE_VALUES = {CLOSED: 0, OPEN: 1, HALF_OPEN: 2}

Transition = Callable[[str, str], None]


class CircuitBreaker:
    """``admit()`` before a request, ``record(ok)`` after it, for the lifetime of the app."""

    def __init__(
        self,
        model: str,
        options: BreakerOptions,
        on_transition: Transition | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model = model
        self.options = options
        self.state = CLOSED
        self._on_transition = on_transition
        self._clock = clock
        self._opened_at = 0.0
        self._probe_out = False
        self._outcomes: deque[tuple[float, bool]] = deque()
        self._failures = 0

    def _move(self, to: str) -> None:
        if to != self.state:
            before, self.state = self.state, to
            if self._on_transition is not None:
                self._on_transition(before, to)

    def admit(self) -> bool:
        """Let a request through, or raise ``Shed``. True when the request is the probe."""
        if self.state == OPEN:
            left = self.options.cooldown - (self._clock() - self._opened_at)
            if left > 0:
                raise Shed(
                    f"model {self.model!r} is failing; the circuit breaker is open "
                    f"for another {left:.1f}s",
                    reason="breaker_open",
                    retry_after=left,
                )
            self._move(HALF_OPEN)
            self._probe_out = False
        if self.state == HALF_OPEN:
            if self._probe_out:
                raise Shed(
                    f"model {self.model!r} is being probed after failures; retry shortly",
                    reason="breaker_open",
                    retry_after=1.0,
                )
            self._probe_out = True
            return True
        return False

    def record(self, ok: bool, probe: bool = False) -> None:
        """Count one outcome of an admitted request."""
        now = self._clock()
        if probe or self.state == HALF_OPEN:
            if not probe:
                return
            self._probe_out = False
            self._reset()
            if ok:
                self._move(CLOSED)
            else:
                self._open(now)
            return
        self._outcomes.append((now, ok))
        self._failures += 0 if ok else 1
        horizon = now - self.options.window
        while self._outcomes and self._outcomes[0][0] < horizon:
            _, old_ok = self._outcomes.popleft()
            self._failures -= 0 if old_ok else 1
        total = len(self._outcomes)
        if (
            self.state == CLOSED
            and total >= self.options.min_requests
            and self._failures / total >= self.options.error_rate
        ):
            self._open(now)

    def cancel_probe(self) -> None:
        """The probe never reached the model (a bad request, say): let another one through."""
        self._probe_out = False

    def _open(self, now: float) -> None:
        self._reset()
        self._opened_at = now
        self._move(OPEN)

    def _reset(self) -> None:
        self._outcomes.clear()
        self._failures = 0


class Shedder:
    """At most ``max_in_flight`` requests at once; a waiter gives up after ``queue_timeout``."""

    def __init__(self, model: str, options: BreakerOptions) -> None:
        self.model = model
        self.options = options
        self._slots = asyncio.Semaphore(options.max_in_flight)

    async def acquire(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()
            return
        try:
            await asyncio.wait_for(self._slots.acquire(), self.options.queue_timeout)
        except TimeoutError:
            raise Shed(
                f"model {self.model!r} is overloaded: no slot freed within "
                f"{self.options.queue_timeout:g}s (max_in_flight {self.options.max_in_flight})",
                reason="queue_timeout",
                retry_after=self.options.queue_timeout,
            ) from None

    def release(self) -> None:
        self._slots.release()
