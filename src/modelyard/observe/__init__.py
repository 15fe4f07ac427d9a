"""Observe: metric names, reading metrics back, evaluation metrics, dashboards, alerts."""

from modelyard.observe import names
from modelyard.observe.scrape import LatencySummary, latency, requests_by_code

__all__ = ["LatencySummary", "latency", "names", "requests_by_code"]
