"""The serving workload: an Argo Rollouts ``Rollout`` (or a plain ``Deployment`` when
``rollout.enabled`` is false), its Services, HorizontalPodAutoscaler and PodDisruptionBudget.

The Rollout's steps follow ``deploy.yaml``: an optional shadow phase (an Istio mirror route
managed by Argo), then one ``setWeight`` per canary step, each held for ``rollout.interval``,
while background analysis (see :mod:`modelyard.k8s.traffic`) can abort at any time.
"""

from __future__ import annotations

from typing import Any

from modelyard.config import ModelEntry
from modelyard.k8s.bundle import server_config_hash
from modelyard.k8s.context import (
    HTTP_PORT,
    RenderContext,
    RenderError,
    go_duration,
    labels,
    metadata,
    seconds,
    selector_labels,
)
from modelyard.k8s.pods import (
    PRESTOP_DRAIN_S,
    gpu_tolerations,
    node_affinity,
    server_container,
    topology_spread,
    volumes,
)
from modelyard.k8s.security import pod_security, workload_skips
from modelyard.observe import names

MIRROR_ROUTE = "mirror"
PRIMARY_ROUTE = "primary"
MATCH_ALL = [{"path": {"prefix": "/"}}]
RPS_METRIC = f"{names.REQUESTS.removesuffix('_total')}_per_second"
"""Pods metric the HPA scales on; prometheus-adapter derives it from the requests counter."""


def canary_service_name(entry: ModelEntry) -> str:
    return f"{entry.id}-canary"


def pod_template(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    """The server pod template shared by the Rollout and the Deployment."""
    spec: dict[str, Any] = {
        "serviceAccountName": ctx.service_account,
        "automountServiceAccountToken": False,
        # preStop drain + the longest a queued request may wait + time to finish it.
        "terminationGracePeriodSeconds": PRESTOP_DRAIN_S
        + seconds(entry.deploy.circuit_breaker.queue_timeout)
        + 20,
        "securityContext": pod_security(),
        "containers": [server_container(ctx, entry)],
        "volumes": volumes(ctx, entry),
        "topologySpreadConstraints": topology_spread(entry),
    }
    affinity = node_affinity(ctx, entry)
    if affinity is not None:
        spec["affinity"] = affinity
    tolerations = gpu_tolerations(entry.deploy.resources.gpu)
    if tolerations:
        spec["tolerations"] = tolerations
    return {
        "metadata": {
            "labels": labels(ctx, entry, "server"),
            "annotations": {"modelyard.dev/server-config": server_config_hash(ctx, entry)},
        },
        "spec": spec,
    }


def _replicas(entry: ModelEntry) -> dict[str, Any]:
    # With an HPA the replica count is the HPA's field; applying it would fight the HPA.
    if entry.deploy.autoscaling.enabled:
        return {}
    return {"replicas": entry.deploy.replicas.min}


def deployment(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    """A plain rolling-update Deployment, for models with ``rollout.enabled: false``."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(ctx, entry, entry.id, "server", workload_skips(ctx, entry)),
        "spec": {
            **_replicas(entry),
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector_labels(entry, "server")},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
            },
            "template": pod_template(ctx, entry),
        },
    }


def _weight(entry: ModelEntry, index: int, weight: float) -> int:
    if not float(weight).is_integer():
        raise RenderError(
            entry.id,
            str(entry.dir / "deploy.yaml"),
            f"rollout.steps[{index}]",
            f"Argo Rollouts takes whole percents, got {weight}; "
            f"write {int(weight) or 1} or {int(weight) + 1}",
        )
    return int(weight)


def canary_steps(entry: ModelEntry) -> list[dict[str, Any]]:
    """Shadow (mirror) phase, then each canary weight held for the interval."""
    rollout = entry.deploy.rollout
    steps: list[dict[str, Any]] = []
    if rollout.shadow:
        steps += [
            {"setCanaryScale": {"replicas": max(entry.deploy.replicas.min, 1)}},
            # Mirror every request to the canary; its answers are dropped by Istio.
            {"setMirrorRoute": {"name": MIRROR_ROUTE, "percentage": 100, "match": MATCH_ALL}},
            {"pause": {"duration": go_duration(rollout.shadow)}},
            {"setMirrorRoute": {"name": MIRROR_ROUTE}},  # without a match: removes the route
            {"setCanaryScale": {"matchTrafficWeight": True}},
        ]
    for index, weight in enumerate(rollout.steps):
        steps.append({"setWeight": _weight(entry, index, weight)})
        if weight < 100:
            steps.append({"pause": {"duration": go_duration(rollout.interval)}})
    return steps


def rollout(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    """The Argo Rollouts ``Rollout`` with Istio host-level traffic splitting."""
    routing: dict[str, Any] = {
        "istio": {"virtualService": {"name": entry.id, "routes": [PRIMARY_ROUTE]}}
    }
    if entry.deploy.rollout.shadow:
        routing["managedRoutes"] = [{"name": MIRROR_ROUTE}]
    canary = {
        "stableService": entry.id,
        "canaryService": canary_service_name(entry),
        "trafficRouting": routing,
        "analysis": {
            "templates": [{"templateName": entry.id}],
            "args": [
                {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
                {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}},
            ],
        },
        "steps": canary_steps(entry),
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": metadata(ctx, entry, entry.id, "server", workload_skips(ctx, entry)),
        "spec": {
            **_replicas(entry),
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector_labels(entry, "server")},
            "strategy": {"canary": canary},
            "template": pod_template(ctx, entry),
        },
    }


def _service(
    ctx: RenderContext, entry: ModelEntry, name: str, port: int, **extra: Any
) -> dict[str, Any]:
    meta = metadata(ctx, entry, name, "server")
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            **extra,
            "selector": selector_labels(entry, "server"),
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def services(ctx: RenderContext, entry: ModelEntry) -> list[dict[str, Any]]:
    """Stable (and, for a Rollout, canary) Services, plus a headless one for metrics.

    Argo narrows the stable and canary selectors to their pod hashes; the metrics Service
    selects every pod once, so that Prometheus scrapes each pod exactly once.
    """
    out = [_service(ctx, entry, entry.id, 80)]
    if entry.deploy.rollout.enabled:
        out.append(_service(ctx, entry, canary_service_name(entry), 80))
    metrics = _service(ctx, entry, f"{entry.id}-metrics", HTTP_PORT, clusterIP="None")
    metrics["metadata"]["labels"]["modelyard.dev/metrics"] = "true"
    out.append(metrics)
    return out


def autoscaler(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any] | None:
    """autoscaling/v2 HPA on CPU, memory and/or requests per second (None when disabled)."""
    rules = entry.deploy.autoscaling
    if not rules.enabled:
        return None
    metrics: list[dict[str, Any]] = []
    for resource, percent in (("cpu", rules.cpu_percent), ("memory", rules.memory_percent)):
        if percent is not None:
            target = {"type": "Utilization", "averageUtilization": percent}
            metrics.append({"type": "Resource", "resource": {"name": resource, "target": target}})
    if rules.rps_per_replica is not None:
        value = f"{round(rules.rps_per_replica * 1000)}m"
        metrics.append(
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": RPS_METRIC},
                    "target": {"type": "AverageValue", "averageValue": value},
                },
            }
        )
    target_ref = (
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": entry.id}
        if entry.deploy.rollout.enabled
        else {"apiVersion": "apps/v1", "kind": "Deployment", "name": entry.id}
    )
    spec: dict[str, Any] = {
        "scaleTargetRef": target_ref,
        # HPA needs at least one replica; replicas.min 0 keeps one running here.
        "minReplicas": max(entry.deploy.replicas.min, 1),
        "maxReplicas": entry.deploy.replicas.max,
    }
    if metrics:
        spec["metrics"] = metrics
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(ctx, entry, entry.id, "server"),
        "spec": spec,
    }


def disruption_budget(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    """At most one server pod down at a time for voluntary disruptions (node drains)."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(ctx, entry, entry.id, "server"),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector_labels(entry, "server")},
        },
    }
