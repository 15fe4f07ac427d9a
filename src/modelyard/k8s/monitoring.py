"""Prometheus Operator objects: a ``ServiceMonitor`` that scrapes each server pod once, and a
``PrometheusRule`` with the model's alerts.

Alerts: error rate above the rollout's limit, P90 latency above the time a request may queue
(past that the server sheds load anyway), no ready replica, and one pod's CPU near its request
(the HPA averages over pods, so a single hot pod never shows in its figure).
"""

from __future__ import annotations

from typing import Any

from modelyard.config import ModelEntry
from modelyard.k8s.context import RenderContext, labels, metadata
from modelyard.observe import names

SCRAPE_INTERVAL = "15s"
HOT_POD_CPU_RATIO = 0.9


def service_monitor(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    """Scrape ``/metrics`` of every server pod through the headless metrics Service."""
    selector = {**labels(ctx, entry, "server"), "modelyard.dev/metrics": "true"}
    keep = ("app.kubernetes.io/name", "app.kubernetes.io/component", "modelyard.dev/metrics")
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": _selected(ctx, metadata(ctx, entry, entry.id, "monitoring")),
        "spec": {
            "selector": {"matchLabels": {k: selector[k] for k in keep}},
            "namespaceSelector": {"matchNames": [ctx.namespace]},
            # Canary and stable pods differ by this label; analysis queries filter on it.
            "podTargetLabels": ["rollouts-pod-template-hash"],
            "endpoints": [{"port": "http", "path": "/metrics", "interval": SCRAPE_INTERVAL}],
        },
    }


def _selected(ctx: RenderContext, meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` with ``kubernetes.monitor_labels``: a Prometheus only loads the
    ServiceMonitors and rules its selectors match (kube-prometheus-stack: its release)."""
    labels: dict[str, str] = meta["labels"]
    labels.update(ctx.settings.kubernetes.monitor_labels)
    return meta


def _pod_regex(entry: ModelEntry) -> str:
    # <name>-<replicaset hash>-<pod suffix>: never matches another model's pods.
    return f"{entry.id}-[a-z0-9]{{6,10}}-[a-z0-9]{{5}}"


def alert_rules(ctx: RenderContext, entry: ModelEntry) -> list[dict[str, Any]]:
    """The alerting rules of one model."""
    sel = f'namespace="{ctx.namespace}", model="{entry.id}"'
    pods = f'namespace="{ctx.namespace}", pod=~"{_pod_regex(entry)}", container="server"'
    deploy = entry.deploy
    p90_limit = deploy.circuit_breaker.queue_timeout
    max_errors = deploy.rollout.analysis.max_error_rate
    alert_labels = {"model": entry.id, "team": entry.spec.owner.team}
    rules = [
        (
            "ModelyardHighErrorRate",
            f'sum(rate({names.REQUESTS}{{{sel}, code=~"5.."}}[5m])) '
            f"/ sum(rate({names.REQUESTS}{{{sel}}}[5m])) > {max_errors}",
            "5m",
            "critical",
            f"{entry.id}: more than {max_errors:.1%} of requests fail",
        ),
        (
            "ModelyardHighLatency",
            f"histogram_quantile(0.9, sum by (le) "
            f"(rate({names.REQUEST_LATENCY}_bucket{{{sel}}}[5m]))) > {p90_limit}",
            "10m",
            "warning",
            f"{entry.id}: P90 latency above {p90_limit}s (the queue timeout)",
        ),
        (
            "ModelyardUnavailable",
            f"(sum({names.MODEL_READY}{{{sel}}}) or on() vector(0)) < 1",
            "5m",
            "critical",
            f"{entry.id}: no replica is ready",
        ),
        (
            "ModelyardPodCpuHot",
            f"sum by (pod) (rate(container_cpu_usage_seconds_total{{{pods}}}[5m])) "
            f'/ sum by (pod) (kube_pod_container_resource_requests{{{pods}, resource="cpu"}}) '
            f"> {HOT_POD_CPU_RATIO}",
            "15m",
            "warning",
            f"{entry.id}: pod {{{{ $labels.pod }}}} uses over {HOT_POD_CPU_RATIO:.0%} "
            "of its CPU request (the HPA average hides one hot pod)",
        ),
    ]
    return [
        {
            "alert": name,
            "expr": expr,
            "for": duration,
            "labels": {**alert_labels, "severity": severity},
            "annotations": {"summary": summary, "owner": entry.spec.owner.dri},
        }
        for name, expr, duration, severity, summary in rules
    ]


def prometheus_rule(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": _selected(ctx, metadata(ctx, entry, entry.id, "monitoring")),
        "spec": {"groups": [{"name": f"modelyard.{entry.id}", "rules": alert_rules(ctx, entry)}]},
    }
