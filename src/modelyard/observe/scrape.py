"""Reading modelyard's own metrics back from a server's ``/metrics`` text.

The demo and the status views read request counts and latency quantiles this way; the
quantile is estimated from the histogram buckets as Prometheus' ``histogram_quantile`` does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from modelyard.observe import names


@dataclass(frozen=True)
class LatencySummary:
    """Requests and latency of one (model, version, role), from a histogram."""

    count: int
    sum_s: float
    buckets: tuple[tuple[float, float], ...]
    """(upper bound in seconds, cumulative count), sorted by bound."""

    @property
    def mean_s(self) -> float:
        return self.sum_s / self.count if self.count else 0.0

    def quantile(self, q: float) -> float:
        """Linear interpolation inside the bucket that holds the q-th request."""
        if not self.count:
            return 0.0
        rank = q * self.count
        lower_bound, lower_count = 0.0, 0.0
        for bound, cumulative in self.buckets:
            if cumulative >= rank:
                if bound == float("inf"):
                    return lower_bound
                inside = cumulative - lower_count
                share = (rank - lower_count) / inside if inside else 0.0
                return lower_bound + (bound - lower_bound) * share
            lower_bound, lower_count = bound, cumulative
        return lower_bound


def requests_by_code(text: str, model: str) -> dict[str, float]:
    """Requests answered for ``model``, by HTTP status code (all versions and roles)."""
    out: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == names.REQUESTS and sample.labels.get("model") == model:
                out[sample.labels.get("code", "")] += sample.value
    return dict(out)


def latency(text: str, model: str) -> Mapping[tuple[str, str], LatencySummary]:
    """Latency histograms of ``model`` keyed by (version, role)."""
    counts: dict[tuple[str, str], float] = defaultdict(float)
    sums: dict[tuple[str, str], float] = defaultdict(float)
    buckets: dict[tuple[str, str], dict[float, float]] = defaultdict(lambda: defaultdict(float))
    base = names.REQUEST_LATENCY
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if labels.get("model") != model or not sample.name.startswith(base):
                continue
            key = (labels.get("version", ""), labels.get("role", ""))
            if sample.name == f"{base}_count":
                counts[key] += sample.value
            elif sample.name == f"{base}_sum":
                sums[key] += sample.value
            elif sample.name == f"{base}_bucket":
                buckets[key][float(labels["le"])] += sample.value
    return {
        key: LatencySummary(int(counts[key]), sums[key], tuple(sorted(buckets[key].items())))
        for key in counts
    }
