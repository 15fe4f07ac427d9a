"""Cost per team, model and DRI on Kubernetes, in PromQL over cAdvisor and kube-state-metrics.

A cluster bills what pods *request*, so the main figure is requested CPU, memory and GPUs
times ``prices`` (``modelyard.yaml``); what they *use* (cAdvisor) gives the waste, requested
minus used, per pod and never below zero. Pods are attributed to their owner through the
ownership labels every rendered object carries, as kube-state-metrics exports them on
``kube_pod_labels`` when started with
``--metric-labels-allowlist=pods=[modelyard.dev/team,modelyard.dev/model,modelyard.dev/dri]``.

Every expression is a cost per hour (currency/h); :func:`over` integrates one over a window
(the cost of the last day, say) and :func:`trend` compares it with the window before.
"""

from __future__ import annotations

from typing import Literal

from modelyard.config.schema import Prices
from modelyard.observe.queries import RATE

TEAM = "label_modelyard_dev_team"
MODEL = "label_modelyard_dev_model"
DRI = "label_modelyard_dev_dri"
OWNER_LABELS = (TEAM, MODEL, DRI)
GIB = 1024**3
GPU_RESOURCE = "nvidia_com_gpu"
"""kube-state-metrics' name of the ``nvidia.com/gpu`` resource."""

LIVE_PODS = 'kube_pod_status_phase{phase=~"Pending|Running"}'
Kind = Literal["requested", "used", "waste"]
_CONTAINERS = 'container!="", container!="POD"'


def _per_pod(expr: str) -> str:
    return f"sum by (namespace, pod) ({expr})"


def _requested(resource: str) -> str:
    # kube-state-metrics keeps exporting the requests of finished pods (a training Job's,
    # say): only pending and running pods hold their requests on a node.
    requested = _per_pod(f'kube_pod_container_resource_requests{{resource="{resource}"}}')
    return f"({requested} and on (namespace, pod) ({LIVE_PODS} == 1))"


def cpu_used() -> str:
    """CPU cores each pod uses."""
    return _per_pod(f"rate(container_cpu_usage_seconds_total{{{_CONTAINERS}}}[{RATE}])")


def memory_used_gib() -> str:
    """GiB of working set each pod holds."""
    return f"{_per_pod(f'container_memory_working_set_bytes{{{_CONTAINERS}}}')} / {GIB}"


def _gpus(prices: Prices) -> str:
    # Most pods request no GPU: the series is absent, so fall back to zero for them.
    return f"({_requested(GPU_RESOURCE)} * {prices.gpu_hour} or {_requested('cpu')} * 0)"


def pod_cost(kind: Kind, prices: Prices) -> str:
    """Cost per hour of each pod (labels: namespace, pod)."""
    requested = (
        f"{_requested('cpu')} * {prices.cpu_hour} "
        f"+ {_requested('memory')} / {GIB} * {prices.memory_gib_hour} + {_gpus(prices)}"
    )
    # A GPU is not shared: a pod that requests one uses all of it.
    used = (
        f"{cpu_used()} * {prices.cpu_hour} "
        f"+ {memory_used_gib()} * {prices.memory_gib_hour} + {_gpus(prices)}"
    )
    if kind == "requested":
        return requested
    if kind == "used":
        return used
    return f"clamp_min(({requested}) - ({used}), 0)"


def owner_selector(team: str | None = None, model: str | None = None) -> str:
    matchers = [f'{TEAM}="{team}"'] if team else [f'{TEAM}!=""']
    if model:
        matchers.append(f'{MODEL}="{model}"')
    return ", ".join(matchers)


def cost_per_hour(
    kind: Kind, prices: Prices, by: str = TEAM, team: str | None = None, model: str | None = None
) -> str:
    """Cost per hour summed ``by`` an owner label (team, model or DRI), for modelyard's pods."""
    owners = (
        f"max by (namespace, pod, {', '.join(OWNER_LABELS)}) "
        f"(kube_pod_labels{{{owner_selector(team, model)}}})"
    )
    return (
        f"sum by ({by}) (({pod_cost(kind, prices)}) "
        f"* on (namespace, pod) group_left ({', '.join(OWNER_LABELS)}) {owners})"
    )


def over(expr: str, window: str = "1d", step: str = "5m", offset: str = "") -> str:
    """The cost over the last ``window`` of a cost-per-hour ``expr`` (sampled every ``step``),
    or over the window that ended ``offset`` ago."""
    shift = f" offset {offset}" if offset else ""
    return f"sum_over_time(({expr})[{window}:{step}]{shift}) * {_hours(step)}"


def trend(expr: str, window: str = "1d", step: str = "5m") -> str:
    """This window's cost over the previous window's: 1.1 means 10 % up (day over day)."""
    return f"({over(expr, window, step)}) / ({over(expr, window, step, offset=window)})"


def _hours(step: str) -> float:
    units = {"s": 1 / 3600, "m": 1 / 60, "h": 1.0, "d": 24.0}
    return float(step[:-1]) * units[step[-1]]
