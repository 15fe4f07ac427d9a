"""The serving workload: an Argo Rollouts ``Rollout`` (or a plain ``Deployment`` when
``rollout.enabled`` is false), its Services, HorizontalPodAutoscaler and PodDisruptionBudget.

The Rollout's steps follow ``deploy.yaml``: an optional shadow phase (an Istio mirror route
managed by Argo), then one ``setWeight`` per canary step, each held for ``rollout.interval``,
while background analysis (see :mod:`modelyard.k8s.traffic`) can abort at any time.
"""

from __future__ import annotations

import json
from typing import Any

from modelyard.config import ModelEntry
from modelyard.k8s.analysis import gate_step, rollout_args
from modelyard.k8s.bundle import server_volume
from modelyard.k8s.context import (
    GRPC_PORT,
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
GRPC_ROUTE = "grpc"
"""The VirtualService route of the gRPC port (``grpc: true``); Argo moves its weights with
the primary route's, so a canary gets the same share of gRPC calls as of HTTP requests."""
MATCH_ALL = [{"path": {"prefix": "/"}}]
RPS_METRIC = f"{names.REQUESTS.removesuffix('_total')}_per_second"
"""Pods metric the HPA scales on; prometheus-adapter derives it from the requests counter."""
PRODUCTION_MIN_REPLICAS = 2
"""A production model never runs on one pod: a node drain or a crash would take it down."""
VERSION_ANNOTATION = "modelyard.dev/version"
"""Pod annotation naming the registry version the pod serves (also its ``--version``)."""
ISTIO_PROXY_CONFIG = "proxy.istio.io/config"


def canary_service_name(entry: ModelEntry) -> str:
    return f"{entry.id}-canary"


def pod_template(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    """The server pod template shared by the Rollout and the Deployment.

    It names the version it serves (``--version`` and an annotation) and the hashed
    ConfigMap it reads, so a new version or a new config is a new template: Argo runs the
    canary steps and analysis for it, and an abort restores the stable template whole.
    """
    # What a request admitted before the preStop may still take: queueing, then its answer.
    in_flight_s = seconds(entry.deploy.circuit_breaker.queue_timeout) + 5
    spec: dict[str, Any] = {
        "serviceAccountName": ctx.service_account,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": PRESTOP_DRAIN_S + in_flight_s + 15,
        "securityContext": pod_security(),
        "containers": [server_container(ctx, entry)],
        "volumes": volumes(server_volume(ctx, entry)),
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
            "annotations": {
                VERSION_ANNOTATION: str(ctx.version(entry)),
                # Istio's sidecar drains 5 s by default; it must outlast the server's drain.
                ISTIO_PROXY_CONFIG: json.dumps(
                    {"terminationDrainDuration": f"{PRESTOP_DRAIN_S + in_flight_s}s"}
                ),
            },
        },
        "spec": spec,
    }


def min_replicas(entry: ModelEntry) -> int:
    """``replicas.min``, at least :data:`PRODUCTION_MIN_REPLICAS` in production, at least 1."""
    floor = PRODUCTION_MIN_REPLICAS if entry.spec.state == "production" else 1
    if entry.deploy.replicas.max < floor:
        raise RenderError(
            entry.id,
            str(entry.dir / "deploy.yaml"),
            "replicas.max",
            f"a {entry.spec.state} model runs at least {floor} replicas on Kubernetes (one "
            f"node drain must not take it down), got max {entry.deploy.replicas.max}; "
            f"write max: {floor} or more",
        )
    return max(entry.deploy.replicas.min, floor)


def _replicas(entry: ModelEntry) -> dict[str, Any]:
    # With an HPA the replica count is the HPA's field; applying it would fight the HPA.
    if entry.deploy.autoscaling.enabled:
        return {}
    return {"replicas": min_replicas(entry)}


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


def mirror_percent(ctx: RenderContext) -> int:
    """``kubernetes.mirror_share`` as Argo's whole percent (at least 1)."""
    return max(round(ctx.settings.kubernetes.mirror_share * 100), 1)


def canary_steps(ctx: RenderContext, entry: ModelEntry) -> list[dict[str, Any]]:
    """Shadow (mirror) phase, then each canary weight held for the interval.

    The shadow phase mirrors ``mirror_share`` of the traffic to a canary scaled to the same
    share of the replicas (Argo rounds up, so at least one pod): each canary pod carries
    about what a stable pod does, and analysis judges quality, not an overloaded pod.
    """
    rollout = entry.deploy.rollout
    steps: list[dict[str, Any]] = []
    if rollout.shadow:
        share = mirror_percent(ctx)
        steps += [
            {"setCanaryScale": {"weight": share}},
            # Mirror a share of requests to the canary; its answers are dropped by Istio.
            {"setMirrorRoute": {"name": MIRROR_ROUTE, "percentage": share, "match": MATCH_ALL}},
            {"pause": {"duration": go_duration(rollout.shadow)}},
            {"setMirrorRoute": {"name": MIRROR_ROUTE}},  # without a match: removes the route
            {"setCanaryScale": {"matchTrafficWeight": True}},
        ]
    gated = False
    for index, weight in enumerate(rollout.steps):
        if weight >= 100 and not gated:
            # No promotion without evidence: the gate must succeed first.
            steps.append(gate_step(entry))
            gated = True
        steps.append({"setWeight": _weight(entry, index, weight)})
        if weight < 100:
            steps.append({"pause": {"duration": go_duration(rollout.interval)}})
    if not gated:  # the end of the steps promotes too
        steps.append(gate_step(entry))
    return steps


def traffic_routes(entry: ModelEntry) -> list[str]:
    """The VirtualService routes whose weights the canary steps move."""
    return [GRPC_ROUTE, PRIMARY_ROUTE] if entry.deploy.grpc else [PRIMARY_ROUTE]


def rollout(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    """The Argo Rollouts ``Rollout`` with Istio host-level traffic splitting."""
    routing: dict[str, Any] = {
        "istio": {"virtualService": {"name": entry.id, "routes": traffic_routes(entry)}}
    }
    if entry.deploy.rollout.shadow:
        routing["managedRoutes"] = [{"name": MIRROR_ROUTE}]
    canary = {
        "stableService": entry.id,
        "canaryService": canary_service_name(entry),
        "trafficRouting": routing,
        "analysis": {"templates": [{"templateName": entry.id}], "args": rollout_args()},
        "steps": canary_steps(ctx, entry),
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
    ctx: RenderContext, entry: ModelEntry, name: str, port: int, grpc: bool, **extra: Any
) -> dict[str, Any]:
    meta = metadata(ctx, entry, name, "server")
    ports = [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}]
    if grpc:
        # Istio reads appProtocol before the port name, and knows "grpc" (HTTP/2 in clear)
        ports.append(
            {"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc", "protocol": "TCP",
             "appProtocol": "grpc"}
        )  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            **extra,
            "selector": selector_labels(entry, "server"),
            "ports": ports,
        },
    }


def services(ctx: RenderContext, entry: ModelEntry) -> list[dict[str, Any]]:
    """Stable (and, for a Rollout, canary) Services, plus a headless one for metrics.

    Argo narrows the stable and canary selectors to their pod hashes; the metrics Service
    selects every pod once, so that Prometheus scrapes each pod exactly once.
    """
    grpc = entry.deploy.grpc
    out = [_service(ctx, entry, entry.id, 80, grpc)]
    if entry.deploy.rollout.enabled:
        out.append(_service(ctx, entry, canary_service_name(entry), 80, grpc))
    metrics = _service(ctx, entry, f"{entry.id}-metrics", HTTP_PORT, False, clusterIP="None")
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
            # The server container's own use: a pod Resource metric would add the sidecar's.
            target = {"type": "Utilization", "averageUtilization": percent}
            metrics.append(
                {
                    "type": "ContainerResource",
                    "containerResource": {
                        "name": resource,
                        "container": "server",
                        "target": target,
                    },
                }
            )
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
    low = min_replicas(entry)
    spec: dict[str, Any] = {
        "scaleTargetRef": target_ref,
        "minReplicas": low,
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
    """At most one server pod down at a time for voluntary disruptions (node drains); with
    the two replicas a production model has at least, one always serves."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(ctx, entry, entry.id, "server"),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector_labels(entry, "server")},
        },
    }
