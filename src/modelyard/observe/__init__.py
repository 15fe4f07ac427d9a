"""Observe: metric names, reading metrics back, the PromQL of dashboards and cost, Grafana
dashboards (:mod:`~modelyard.observe.dashboards`, which loads the SDK lazily) and a local
Prometheus launcher (:mod:`~modelyard.observe.prometheus`)."""

from modelyard.observe import cost, names, panels, queries
from modelyard.observe.scrape import LatencySummary, latency, requests_by_code

__all__ = ["LatencySummary", "cost", "latency", "names", "panels", "queries", "requests_by_code"]
