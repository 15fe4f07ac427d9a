"""Token-bucket rate limits, per model or per client key, answering 429 with Retry-After.

A bucket holds up to ``burst`` tokens and refills at ``rps`` per second; a request takes one
token or is refused with the time until the next token. With a client-key header configured,
each key gets its own bucket (kept for the most recent ``max_clients`` keys).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from modelyard.serving.options import RateLimitOptions
from modelyard.serving.protocol.errors import RateLimited


class TokenBucket:
    """``rps`` tokens a second, at most ``burst`` saved up."""

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rps")

    def __init__(self, rps: float, burst: float, clock: Callable[[], float]) -> None:
        self.rps = rps
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()

    def take(self) -> float:
        """Take a token: 0.0 when granted, else the seconds until one will be there."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rps)
        self._stamp = now
        if self._tokens >= 1.0 - 1e-9:  # float error must not cost a token
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rps


class RateLimiter:
    """The limits of one model; ``check(client_key)`` raises ``RateLimited`` when exceeded."""

    def __init__(
        self,
        model: str,
        options: RateLimitOptions,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10000,
    ) -> None:
        self.model = model
        self.options = options
        self.header = options.per_client.lower() if options.per_client else None
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.options.rps is not None

    def _bucket(self, key: str) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            rps = float(self.options.rps or 0.0)
            burst = float(self.options.burst or max(1, -int(-rps // 1)))
            bucket = self._buckets[key] = TokenBucket(rps, burst, self._clock)
            if len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def check(self, client_key: str | None) -> None:
        if self.options.rps is None:
            return
        key = (client_key or "") if self.header else ""
        wait = self._bucket(key).take()
        if wait > 0:
            who = f"client {key!r} of model" if self.header else "model"
            raise RateLimited(
                f"rate limit of {self.options.rps:g} requests/s reached for {who} "
                f"{self.model!r}; retry after {wait:.2f}s",
                retry_after=wait,
            )
