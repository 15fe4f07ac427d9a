"""The PromQL that dashboards and tests read a model's serving metrics with.

Expressions use modelyard's names (:mod:`modelyard.observe.names`) and the standard cAdvisor
(``container_*``) and kube-state-metrics (``kube_*``) series, nothing else. ``RATE`` is
Grafana's ``$__rate_interval``; :func:`substitute` fills it (and any other dashboard
variable) in for running an expression against Prometheus directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from modelyard.observe import names

RATE = "$__rate_interval"
"""Window of every ``rate()``: Grafana picks it from the scrape interval and the zoom."""
SERVER_CONTAINER = "server"
"""Name of the model server's container in the rendered pods."""

_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    """``expr`` with ``$name`` / ``${name}`` replaced; unknown variables are an error."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1) or match.group(2)
        if key not in variables:
            raise KeyError(f"no value for dashboard variable ${key} in {expr!r}")
        return variables[key]

    return _VARIABLE.sub(value, expr)


def model_selector(model: str, extra: str = "") -> str:
    """Label matchers of one model's modelyard series."""
    return f'model="{model}"{extra}'


def pod_regex(model: str) -> str:
    """Pods of a model's Deployment or Rollout: ``<id>-<replicaset hash>-<suffix>``."""
    return f"{model}-[a-z0-9]{{6,10}}-[a-z0-9]{{5}}"


def pod_selector(namespace: str, model: str) -> str:
    """cAdvisor / kube-state-metrics matchers of a model's server containers."""
    return f'namespace="{namespace}", pod=~"{pod_regex(model)}", container="{SERVER_CONTAINER}"'


def request_rate(sel: str, by: str = "version, role, code") -> str:
    return f"sum by ({by}) (rate({names.REQUESTS}{{{sel}}}[{RATE}]))"


def error_rate(sel: str, by: str = "version") -> str:
    """Share of requests answered 5xx."""
    return (
        f'sum by ({by}) (rate({names.REQUESTS}{{{sel}, code=~"5.."}}[{RATE}])) '
        f"/ sum by ({by}) (rate({names.REQUESTS}{{{sel}}}[{RATE}]))"
    )


def quantile(q: float, histogram: str, sel: str, by: str = "version") -> str:
    """A quantile of one of modelyard's histograms, per ``by``."""
    return f"histogram_quantile({q}, sum by (le, {by}) (rate({histogram}_bucket{{{sel}}}[{RATE}])))"


def mean(histogram: str, sel: str, by: str = "version") -> str:
    return (
        f"sum by ({by}) (rate({histogram}_sum{{{sel}}}[{RATE}])) "
        f"/ sum by ({by}) (rate({histogram}_count{{{sel}}}[{RATE}]))"
    )


def ratio(numerator: str, denominator: str, sel: str, by: str = "version") -> str:
    """``rate(numerator) / rate(denominator)`` of two counters, per ``by``."""
    return (
        f"sum by ({by}) (rate({numerator}{{{sel}}}[{RATE}])) "
        f"/ sum by ({by}) (rate({denominator}{{{sel}}}[{RATE}]))"
    )


def click_rate(sel: str, by: str = "version") -> str:
    """Joined outcomes that were positive (clicks), per version."""
    outcomes = names.FEEDBACK_OUTCOMES
    return (
        f'sum by ({by}) (rate({outcomes}{{{sel}, outcome="positive"}}[{RATE}])) '
        f"/ sum by ({by}) (rate({outcomes}{{{sel}}}[{RATE}]))"
    )


def calibration(sel: str, by: str = "version") -> str:
    """Predicted positives over observed positives: 1.0 is calibrated, above 1 overconfident."""
    return (
        f"sum by ({by}) (rate({names.FEEDBACK_PREDICTED}{{{sel}}}[{RATE}])) "
        f'/ sum by ({by}) (rate({names.FEEDBACK_OUTCOMES}{{{sel}, outcome="positive"}}[{RATE}]))'
    )


def cpu_used(pods: str) -> str:
    """CPU cores each server container uses (cAdvisor)."""
    return f"sum by (pod) (rate(container_cpu_usage_seconds_total{{{pods}}}[{RATE}]))"


def memory_used(pods: str) -> str:
    """Working-set bytes of each server container (what the OOM killer looks at)."""
    return f"sum by (pod) (container_memory_working_set_bytes{{{pods}}})"


def resource(kind: str, pods: str, resource_name: str) -> str:
    """Requests or limits (``kind``) of each server container, from kube-state-metrics."""
    return (
        f'sum by (pod) (kube_pod_container_resource_{kind}{{{pods}, resource="{resource_name}"}})'
    )


def replicas(namespace: str, model: str) -> dict[str, str]:
    """Ready pods and the autoscaler's current and desired replica counts."""
    hpa = f'namespace="{namespace}", horizontalpodautoscaler="{model}"'
    pods = f'namespace="{namespace}", pod=~"{pod_regex(model)}", condition="true"'
    return {
        "ready": f"sum(kube_pod_status_ready{{{pods}}})",
        "current": f"sum(kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}})",
        "desired": f"sum(kube_horizontalpodautoscaler_status_desired_replicas{{{hpa}}})",
        "max": f"sum(kube_horizontalpodautoscaler_spec_max_replicas{{{hpa}}})",
    }
