"""The VPA recommender's decaying exponential histogram, rebuilt from its documented behaviour.

Buckets grow by 5 % from a first bucket of ``first_bucket`` (0.001 cores for CPU, 1e7 bytes for
memory); a percentile is the *end* of the bucket where the cumulative weight first reaches the
share asked for, so VPA's figures round up to the next bucket boundary. Weights decay with a
half-life: a sample ``half_life_s`` older than another counts half as much. The weights are kept
relative to a reference time that moves forward, so they never overflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["CPU_BUCKETS", "MEMORY_BUCKETS", "BucketScheme", "DecayingHistogram"]

_RESCALE_AT = 2.0**64  # move the reference time forward before weights grow this big


@dataclass(frozen=True, slots=True)
class BucketScheme:
    """Exponential buckets: bucket ``i`` starts at ``first * (ratio**i - 1) / (ratio - 1)``."""

    max_value: float
    first_bucket: float
    ratio: float = 1.05

    @property
    def buckets(self) -> int:
        """Number of buckets, the last one open-ended."""
        scaled = self.max_value * (self.ratio - 1) / self.first_bucket + 1
        return math.ceil(math.log(scaled) / math.log(self.ratio)) + 1

    def start(self, bucket: int) -> float:
        """The lower edge of ``bucket``."""
        return self.first_bucket * (self.ratio**bucket - 1) / (self.ratio - 1)

    def find(self, value: float) -> int:
        """The bucket that holds ``value``."""
        if value < self.first_bucket:
            return 0
        scaled = value * (self.ratio - 1) / self.first_bucket + 1
        bucket = math.floor(math.log(scaled) / math.log(self.ratio))
        # floating point can put a value that sits on an edge one bucket off
        while bucket > 0 and self.start(bucket) > value:
            bucket -= 1
        while bucket + 1 < self.buckets and self.start(bucket + 1) <= value:
            bucket += 1
        return min(bucket, self.buckets - 1)


CPU_BUCKETS = BucketScheme(max_value=1000.0, first_bucket=0.001)
"""VPA's CPU histogram: cores, 0.001 first bucket, up to 1000 cores."""
MEMORY_BUCKETS = BucketScheme(max_value=1e12, first_bucket=1e7)
"""VPA's memory histogram: bytes, 10 MB first bucket, up to 1 TB."""


class DecayingHistogram:
    """Weighted samples in exponential buckets whose weight halves every ``half_life_s``."""

    def __init__(self, scheme: BucketScheme, half_life_s: float) -> None:
        self.scheme = scheme
        self.half_life_s = half_life_s
        self._weights = [0.0] * scheme.buckets
        self._total = 0.0
        self._reference: float | None = None

    @property
    def total_weight(self) -> float:
        """Sum of the (relative) weights; zero when empty."""
        return self._total

    def add(self, value: float, weight: float, at: float) -> None:
        """Add ``value`` with ``weight`` as measured at Unix time ``at``."""
        if weight < 0:
            raise ValueError(f"sample weight {weight} is negative")
        if self._reference is None:
            self._reference = at
        factor = 2.0 ** ((at - self._reference) / self.half_life_s)
        if factor > _RESCALE_AT:
            self._shift_reference(at)
            factor = 1.0
        bucket = self.scheme.find(value)
        self._weights[bucket] += weight * factor
        self._total += weight * factor

    def _shift_reference(self, at: float) -> None:
        assert self._reference is not None
        scale = 2.0 ** ((self._reference - at) / self.half_life_s)
        self._weights = [w * scale for w in self._weights]
        self._total *= scale
        self._reference = at

    def percentile(self, share: float) -> float:
        """The end of the bucket where the cumulative weight reaches ``share`` of the total."""
        nonempty = [i for i, w in enumerate(self._weights) if w > 0]
        if not nonempty:
            return 0.0
        threshold = share * self._total
        partial = 0.0
        bucket = nonempty[0]
        for bucket in range(nonempty[0], nonempty[-1] + 1):
            partial += self._weights[bucket]
            if partial >= threshold:
                break
        if bucket < self.scheme.buckets - 1:
            return self.scheme.start(bucket + 1)
        return self.scheme.start(bucket)
