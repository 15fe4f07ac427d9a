"""Observe: metric names, reading metrics back, the PromQL of dashboards and cost, Grafana
dashboards (:mod:`~modelyard.observe.dashboards`, which loads the SDK lazily) and a local
Prometheus launcher (:mod:`~modelyard.observe.prometheus`).

The names load on first use, so that ``modelyard.observe.usage`` (which the local backend
and the steering commands import) does not pull in the PromQL and panel modules."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.observe import cost, names, panels, queries
    from modelyard.observe.scrape import LatencySummary, latency, requests_by_code

__all__ = ["LatencySummary", "cost", "latency", "names", "panels", "queries", "requests_by_code"]

_SCRAPE = ("LatencySummary", "latency", "requests_by_code")


def __getattr__(name: str) -> Any:
    if name in _SCRAPE:
        value = getattr(importlib.import_module("modelyard.observe.scrape"), name)
    elif name in __all__:
        value = importlib.import_module(f"modelyard.observe.{name}")
    else:
        raise AttributeError(f"module 'modelyard.observe' has no attribute {name!r}")
    globals()[name] = value
    return value
