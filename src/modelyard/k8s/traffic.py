"""Istio routing and Argo Rollouts analysis: the ``VirtualService`` whose route weights Argo
moves, a ``DestinationRule`` per host, and the ``AnalysisTemplate`` that compares the canary
with the stable version on modelyard's own metrics.

Canary and stable pods are told apart by the ``rollouts_pod_template_hash`` label the
ServiceMonitor copies from the pod onto every series; Argo passes both hashes as arguments.
"""

from __future__ import annotations

from typing import Any

from modelyard.config import ModelEntry
from modelyard.k8s.context import RenderContext, go_duration, metadata
from modelyard.k8s.serving import PRIMARY_ROUTE, canary_service_name
from modelyard.observe import names

HASH_LABEL = "rollouts_pod_template_hash"


def _host(ctx: RenderContext, service: str) -> str:
    return f"{service}.{ctx.namespace}.svc.cluster.local"


def virtual_service(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    """Route the model's host to the stable Service, and the canary at weight 0 (Argo moves it)."""
    port = {"number": 80}
    route = [{"destination": {"host": _host(ctx, entry.id), "port": port}, "weight": 100}]
    if entry.deploy.rollout.enabled:
        canary = {"host": _host(ctx, canary_service_name(entry)), "port": port}
        route.append({"destination": canary, "weight": 0})
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": metadata(ctx, entry, entry.id, "traffic"),
        "spec": {
            "hosts": [_host(ctx, entry.id)],
            "http": [{"name": PRIMARY_ROUTE, "route": route}],
        },
    }


def destination_rules(ctx: RenderContext, entry: ModelEntry) -> list[dict[str, Any]]:
    """Connection limits from the circuit breaker and outlier ejection, per host."""
    deploy = entry.deploy
    services = [entry.id]
    if deploy.rollout.enabled:
        services.append(canary_service_name(entry))
    policy = {
        "connectionPool": {
            "http": {"http2MaxRequests": deploy.circuit_breaker.max_in_flight * deploy.replicas.max}
        },
        "outlierDetection": {
            "consecutive5xxErrors": 5,
            "interval": "10s",
            "baseEjectionTime": "30s",
            "maxEjectionPercent": 50,
        },
    }
    return [
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": metadata(ctx, entry, service, "traffic"),
            "spec": {"host": _host(ctx, service), "trafficPolicy": policy},
        }
        for service in services
    ]


def _sel(ctx: RenderContext, entry: ModelEntry, extra: str = "") -> str:
    return f'namespace="{ctx.namespace}", model="{entry.id}"{extra}'


def analysis_queries(ctx: RenderContext, entry: ModelEntry) -> dict[str, str]:
    """PromQL of each analysis metric; empty results mean "not enough data yet"."""
    analysis = entry.deploy.rollout.analysis
    window = go_duration(max(entry.deploy.rollout.interval, 60.0))
    canary = _sel(ctx, entry, f', {HASH_LABEL}="{{{{args.canary-hash}}}}"')
    stable = _sel(ctx, entry, f', {HASH_LABEL}="{{{{args.stable-hash}}}}"')
    enough = f"sum(increase({names.REQUESTS}{{{canary}}}[{window}])) >= {analysis.min_requests}"
    errors = (
        f'sum(rate({names.REQUESTS}{{{canary}, code=~"5.."}}[{window}])) '
        f"/ sum(rate({names.REQUESTS}{{{canary}}}[{window}]))"
    )

    def p90(selector: str) -> str:
        return (
            f"histogram_quantile(0.9, sum by (le) "
            f"(rate({names.REQUEST_LATENCY}_bucket{{{selector}}}[{window}])))"
        )

    model = _sel(ctx, entry)
    divergence = (
        f"sum(rate({names.SHADOW_DIVERGED}{{{model}}}[{window}])) "
        f"/ sum(rate({names.SHADOW_COMPARED}{{{model}}}[{window}]))"
    )
    return {
        "error-rate": f"({errors}) and on() ({enough})",
        "latency-p90-ratio": f"({p90(canary)} / {p90(stable)}) and on() ({enough})",
        "shadow-divergence": divergence,
    }


def analysis_template(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    """Argo ``AnalysisTemplate``: fail the rollout (and roll back) on any threshold crossed."""
    analysis = entry.deploy.rollout.analysis
    limits = {
        "error-rate": analysis.max_error_rate,
        "latency-p90-ratio": analysis.max_latency_p90_ratio,
        "shadow-divergence": analysis.max_divergence,
    }
    metrics = [
        {
            "name": name,
            "interval": go_duration(entry.deploy.rollout.interval),
            "failureLimit": 0,
            # Until min_requests have been served the query is empty: neither pass nor fail.
            "failureCondition": f"len(result) > 0 && result[0] > {limits[name]}",
            "provider": {"prometheus": {"address": ctx.prometheus_url, "query": query}},
        }
        for name, query in analysis_queries(ctx, entry).items()
    ]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": metadata(ctx, entry, entry.id, "rollout"),
        "spec": {
            "args": [{"name": "canary-hash"}, {"name": "stable-hash"}],
            "metrics": metrics,
        },
    }
