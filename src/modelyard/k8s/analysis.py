"""Argo Rollouts analysis: the ``AnalysisTemplate`` that watches the canary during its steps,
and the gate template that must succeed before it takes all traffic.

Argo counts a measurement as successful when its success condition is true and its failure
condition false, as failed when the failure condition is true, and as inconclusive when
neither holds; with no success condition it counts "failure condition false" as success, so an
empty Prometheus result (no series: the canary not scraped, too little traffic) would pass.
Every metric here therefore has both conditions, each true only on a real number
(``len(result) == 1 && !isNaN(result[0])``): an empty or NaN result is inconclusive.

- background (``<id>``): every interval during the steps; a failure aborts at once; an
  inconclusive measurement is tolerated (early in a canary there is no data yet);
- gate (``<id>-gate``): one measurement of each metric as the step before the canary takes
  all traffic; anything but success (inconclusive: the rollout pauses) stops promotion.

Besides error rate and P90 latency ratio, two metrics ask whether there is evidence at all:
``canary-scraped`` (Prometheus has ``up`` series for the canary's pods) and ``canary-volume``
(the canary served ``analysis.min_requests`` in the window). Conditions use only the small
subset of Argo's expression language listed in :data:`CONDITION_FORMS`.
"""

from __future__ import annotations

import copy
from math import ceil
from typing import Any

from modelyard.config import ModelEntry
from modelyard.k8s.context import RenderContext, go_duration, metadata
from modelyard.observe import names

HASH_LABEL = "rollouts_pod_template_hash"
CONDITION_FORMS = (
    "len(result) == 1 && !isNaN(result[0]) && result[0] <= LIMIT",
    "len(result) == 1 && !isNaN(result[0]) && result[0] > LIMIT",
    "len(result) == 1 && !isNaN(result[0]) && result[0] >= LIMIT",
    "len(result) == 1 && !isNaN(result[0]) && result[0] < LIMIT",
    "false",
)
"""The condition forms emitted (LIMIT a number): ``tests/k8s/argo_expr.py`` evaluates them."""
ARGS = [{"name": "canary-hash"}, {"name": "stable-hash"}]
ROLLOUT_ARGS = [
    {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
    {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}},
]
"""How the Rollout fills :data:`ARGS` for both templates."""


def gate_name(entry: ModelEntry) -> str:
    return f"{entry.id}-gate"


def _number(condition: str, limit: float) -> str:
    return f"len(result) == 1 && !isNaN(result[0]) && result[0] {condition} {limit}"


def _window(entry: ModelEntry) -> str:
    return go_duration(max(entry.deploy.rollout.interval, 60.0))


def _sel(ctx: RenderContext, entry: ModelEntry, which: str) -> str:
    return (
        f'namespace="{ctx.namespace}", model="{entry.id}", {HASH_LABEL}="{{{{args.{which}-hash}}}}"'
    )


def metrics(ctx: RenderContext, entry: ModelEntry) -> dict[str, tuple[str, str, str]]:
    """Metric name -> (PromQL, successCondition, failureCondition)."""
    analysis = entry.deploy.rollout.analysis
    window = _window(entry)
    canary, stable = _sel(ctx, entry, "canary"), _sel(ctx, entry, "stable")
    requests = f"sum(increase({names.REQUESTS}{{{canary}}}[{window}]))"
    enough = f"{requests} >= {analysis.min_requests}"
    errors = (
        f'sum(rate({names.REQUESTS}{{{canary}, code=~"5.."}}[{window}])) '
        f"/ sum(rate({names.REQUESTS}{{{canary}}}[{window}]))"
    )

    def p90(selector: str) -> str:
        return (
            f"histogram_quantile(0.9, sum by (le) "
            f"(rate({names.REQUEST_LATENCY}_bucket{{{selector}}}[{window}])))"
        )

    scraped = (
        f'sum(up{{namespace="{ctx.namespace}", service="{entry.id}-metrics", '
        f'{HASH_LABEL}="{{{{args.canary-hash}}}}"}})'
    )
    out = {
        # The canary's pods are targets of Prometheus at all (a ServiceMonitor the
        # Prometheus does not select, or a scrape refused by mTLS, leaves this empty).
        "canary-scraped": (scraped, _number(">=", 1), _number("<", 1)),
        # Too little traffic is no evidence either way: inconclusive, never a failure.
        "canary-volume": (requests, _number(">=", analysis.min_requests), "false"),
        "error-rate": (
            f"({errors}) and on() ({enough})",
            _number("<=", analysis.max_error_rate),
            _number(">", analysis.max_error_rate),
        ),
        "latency-p90-ratio": (
            f"({p90(canary)} / {p90(stable)}) and on() ({enough})",
            _number("<=", analysis.max_latency_p90_ratio),
            _number(">", analysis.max_latency_p90_ratio),
        ),
    }
    if entry.deploy.rollout.shadow:
        # Only the canary pods' own comparisons, and only once enough were made: a shadow
        # experiment running in stable pods says nothing about this rollout.
        shadow = canary
        compared = f"sum(increase({names.SHADOW_COMPARED}{{{shadow}}}[{window}]))"
        out["shadow-divergence"] = (
            f"(sum(increase({names.SHADOW_DIVERGED}{{{shadow}}}[{window}])) / {compared}) "
            f"and on() ({compared} >= {analysis.min_requests})",
            _number("<=", analysis.max_divergence),
            _number(">", analysis.max_divergence),
        )
    return out


GATE_METRICS = ("canary-scraped", "canary-volume", "error-rate", "latency-p90-ratio")
"""What must succeed before promotion. Shadow divergence is only watched: on Kubernetes the
canary compares predictions only when a shadow experiment runs in it."""


def _measurements(entry: ModelEntry) -> int:
    """How many background measurements a rollout lasts, at most (its inconclusive budget)."""
    rollout = entry.deploy.rollout
    total = (rollout.shadow or 0.0) + rollout.interval * len(rollout.steps)
    return ceil(total / max(rollout.interval, 1.0)) + 1


def _template(ctx: RenderContext, entry: ModelEntry, name: str, background: bool) -> dict[str, Any]:
    found = metrics(ctx, entry)
    chosen = found if background else {k: found[k] for k in GATE_METRICS}
    rendered = []
    for metric, (query, success, failure) in chosen.items():
        item: dict[str, Any] = {"name": metric}
        if background:
            item["interval"] = go_duration(entry.deploy.rollout.interval)
            item["inconclusiveLimit"] = _measurements(entry)
        else:
            item["count"] = 1
            item["inconclusiveLimit"] = 0
        item |= {
            "failureLimit": 0,
            "successCondition": success,
            "failureCondition": failure,
            "provider": {"prometheus": {"address": ctx.prometheus_url, "query": query}},
        }
        rendered.append(item)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": metadata(ctx, entry, name, "rollout"),
        "spec": {"args": list(ARGS), "metrics": rendered},
    }


def analysis_templates(ctx: RenderContext, entry: ModelEntry) -> list[dict[str, Any]]:
    """The background template and the gate template."""
    return [
        _template(ctx, entry, entry.id, background=True),
        _template(ctx, entry, gate_name(entry), background=False),
    ]


def gate_step(entry: ModelEntry) -> dict[str, Any]:
    """The Rollout step that runs the gate template and waits for its verdict."""
    return {"analysis": {"templates": [{"templateName": gate_name(entry)}], "args": rollout_args()}}


def rollout_args() -> list[dict[str, Any]]:
    """A fresh copy of :data:`ROLLOUT_ARGS` (a shared list would be a YAML alias)."""
    return copy.deepcopy(ROLLOUT_ARGS)
