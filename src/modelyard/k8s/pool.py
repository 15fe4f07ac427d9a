"""A pool on Kubernetes: one ``Deployment`` running ``modelyard serve --pool NAME`` for every
served model whose ``deploy.yaml`` names the pool, with its Services, NetworkPolicy, workspace
ConfigMap (every pooled model's server files), PodDisruptionBudget, DestinationRule and
ServiceMonitor.

A pooled model renders no workload, canary Service or HPA of its own; it keeps its host: a
Service named after it that selects the pool's pods (so ``<id>.<ns>.svc`` still resolves) and
its VirtualService, which routes to the pool's Service. The pool server picks the model by the
name in the request path, as it does locally.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil
from typing import Any

from modelyard.config import ModelEntry, cpu_millis, memory_bytes
from modelyard.config.schema import PoolSettings
from modelyard.k8s import monitoring, traffic
from modelyard.k8s.bundle import (
    MAX_CONFIGMAP_BYTES,
    MOUNT_PATH,
    configmap_data,
    content_hash,
    pool_server_files,
    volume_of,
)
from modelyard.k8s.context import (
    HTTP_PORT,
    RenderContext,
    RenderError,
    metadata,
    pool_labels,
    pool_metadata,
    pool_object_name,
    pool_selector_labels,
    seconds,
)
from modelyard.k8s.network import server_rules
from modelyard.k8s.pods import (
    PRESTOP_DRAIN_S,
    burst_cpu,
    gpu_tolerations,
    node_affinity,
    server_container,
    spread,
    volumes,
)
from modelyard.k8s.security import pod_security, workload_skips
from modelyard.k8s.serving import ISTIO_PROXY_CONFIG, min_replicas

BASE_RSS_BYTES = 384 * 2**20
"""Memory of the pool server before any model: Python, modelyard, the framework's modules."""
HEAP_HEADROOM = 0.10
"""Share of the budget added for what the budget does not count: a load in progress (it is
measured after it ends) and heap that eviction freed but the allocator still holds."""
VERSIONS_ANNOTATION = "modelyard.dev/versions"
"""Pod annotation naming each pooled model's registry version: a new one rolls the pool."""
MODELS_ANNOTATION = "modelyard.dev/models"
"""Annotation on the pool's Deployment naming the models it serves."""


@dataclass(frozen=True)
class Pool:
    """A pool and the served models that name it (sorted by id, at least one)."""

    name: str
    settings: PoolSettings
    members: tuple[ModelEntry, ...]


def check(ctx: RenderContext, pool: Pool, model_ids: Sequence[str]) -> None:
    """Refuse what one pool server cannot run: several images, gRPC, a name taken."""
    images: dict[str, list[str]] = {}
    for entry in pool.members:
        images.setdefault(ctx.image(entry), []).append(entry.id)
        if entry.deploy.grpc:
            raise RenderError(
                entry.id,
                str(entry.dir / "deploy.yaml"),
                "grpc",
                f"pool {pool.name!r} serves HTTP only (a pool server has no gRPC port); "
                "remove grpc: true, or remove pool: to serve the model on its own",
            )
    if len(images) > 1:
        # The odd ones out: the models not on the most common image (on a tie, the image of
        # the first model by id, since images keeps the members' order).
        groups = sorted(images.items(), key=lambda item: -len(item[1]))
        odd = [m for _, ids in groups[1:] for m in ids]
        first = next(e for e in pool.members if e.id == odd[0])
        listed = "; ".join(f"{', '.join(ids)} on {image}" for image, ids in sorted(images.items()))
        raise RenderError(
            first.id,
            str(first.dir / "deploy.yaml"),
            "pool",
            f"the models of pool {pool.name!r} must share one runtime image (one pod runs "
            f"them all), but {listed}. Give {', '.join(odd)} the runtime of the others in "
            f"model.yaml, or move {'them' if len(odd) > 1 else 'it'} to another pool",
        )
    name = pool_object_name(pool.name)
    if name in model_ids:
        raise RenderError(
            name,
            str(pool.members[0].dir.parent.parent / "modelyard.yaml"),
            f"pools.{pool.name}",
            f"pool {pool.name!r} renders objects named {name!r}, which is also a model's "
            "id; rename the pool",
        )


def member_objects(ctx: RenderContext, entry: ModelEntry) -> list[dict[str, Any]]:
    """What a pooled model renders beside its pool: its host (a Service selecting the pool's
    pods, so the name resolves without the mesh too) and its VirtualService."""
    assert entry.deploy.pool is not None  # only called for pooled models
    alias = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(ctx, entry, entry.id, "server"),
        "spec": {
            "selector": pool_selector_labels(entry.deploy.pool.name, "server"),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    return [alias, traffic.virtual_service(ctx, entry)]


def pool_objects(ctx: RenderContext, pool: Pool) -> list[dict[str, Any]]:
    """Every object of the pool itself, in the order a model's are rendered."""
    files = pool_server_files(ctx, list(pool.members))
    configmap = _configmap(ctx, pool, files)
    return [
        configmap,
        _policy(ctx, pool),
        *_services(ctx, pool),
        deployment(ctx, pool, volume_of(configmap["metadata"]["name"], files)),
        _disruption_budget(ctx, pool),
        _destination_rule(ctx, pool),
        _service_monitor(ctx, pool),
    ]


def _configmap(ctx: RenderContext, pool: Pool, files: dict[str, bytes]) -> dict[str, Any]:
    data, binary, size = configmap_data(files)
    if size > MAX_CONFIGMAP_BYTES:
        first = pool.members[0]
        raise RenderError(
            first.id,
            str(first.dir.parent.parent / "modelyard.yaml"),
            f"pools.{pool.name}",
            f"the server files of pool {pool.name!r}'s {len(pool.members)} models are "
            f"{size // 1024} KiB, over the {MAX_CONFIGMAP_BYTES // 1024} KiB a ConfigMap "
            "carries; split the pool in two",
        )
    name = f"{pool_object_name(pool.name)}-workspace-{content_hash(files)}"
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": pool_metadata(ctx, pool.name, name, "config"),
        "data": data,
    }
    obj["metadata"]["labels"]["modelyard.dev/slice"] = "workspace"
    if binary:
        obj["binaryData"] = binary
    return obj


def pool_resources(pool: Pool) -> dict[str, Any]:
    """Requests and limits of the pool's server container.

    Memory: the pool's budget plus headroom (:data:`BASE_RSS_BYTES` for the process itself,
    :data:`HEAP_HEADROOM` of the budget for a load in progress and freed-but-held heap), as
    request and limit both: the scheduler reserves all the pool may use, so a node never
    overcommits it. CPU: the largest request of its models (one event loop serves them all),
    with the usual burst limit.
    """
    budget = memory_bytes(pool.settings.memory)
    memory = f"{ceil((budget * (1 + HEAP_HEADROOM) + BASE_RSS_BYTES) / 2**20)}Mi"
    cpu = max((e.deploy.resources.cpu for e in pool.members), key=cpu_millis)
    requests: dict[str, str] = {"cpu": cpu, "memory": memory}
    limits: dict[str, str] = {"cpu": burst_cpu(cpu), "memory": memory}
    gpus = max(e.deploy.resources.gpu for e in pool.members)
    if gpus:
        requests["nvidia.com/gpu"] = limits["nvidia.com/gpu"] = str(gpus)
    return {"requests": requests, "limits": limits}


def _container(ctx: RenderContext, pool: Pool) -> dict[str, Any]:
    # A model server's container (image, probes, drain, security, mounts), serving the pool.
    container = server_container(ctx, pool.members[0])
    container["args"] = [
        *("modelyard", "serve", "--pool", pool.name, "-w", MOUNT_PATH),
        *("--host", "0.0.0.0", "--port", str(HTTP_PORT)),  # noqa: S104 - inside the pod
    ]
    container["env"] = [e for e in container["env"] if e["name"] != "MODELYARD_MODEL"]
    container["resources"] = pool_resources(pool)
    return container


def _affinity(ctx: RenderContext, pool: Pool) -> dict[str, Any] | None:
    # Every model's scheduling.avoid holds for the pod that serves them all.
    avoided: dict[str, list[str]] = {}
    for entry in pool.members:
        affinity = node_affinity(ctx, entry)
        if affinity is None:
            continue
        terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        for expression in terms["nodeSelectorTerms"][0]["matchExpressions"]:
            values = avoided.setdefault(expression["key"], [])
            values.extend(v for v in expression["values"] if v not in values)
    if not avoided:
        return None
    expressions = [{"key": k, "operator": "NotIn", "values": v} for k, v in avoided.items()]
    required = {"nodeSelectorTerms": [{"matchExpressions": expressions}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}


def pod_template(ctx: RenderContext, pool: Pool, workspace: dict[str, Any]) -> dict[str, Any]:
    """The pool server's pod template; it names every model's version, so a new version of
    any one is a new template (a rolling update of the pool)."""
    in_flight_s = max(seconds(e.deploy.circuit_breaker.queue_timeout) for e in pool.members) + 5
    pod_volumes = volumes(workspace)
    # The verified cache under /tmp holds every model the pool has served, not one.
    budget_mib = ceil(memory_bytes(pool.settings.memory) / 2**20)
    pod_volumes[1]["emptyDir"]["sizeLimit"] = f"{1024 + budget_mib}Mi"
    spec: dict[str, Any] = {
        "serviceAccountName": ctx.service_account,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": PRESTOP_DRAIN_S + in_flight_s + 15,
        "securityContext": pod_security(),
        "containers": [_container(ctx, pool)],
        "volumes": pod_volumes,
        "topologySpreadConstraints": spread(pool_selector_labels(pool.name, "server")),
    }
    affinity = _affinity(ctx, pool)
    if affinity is not None:
        spec["affinity"] = affinity
    tolerations = gpu_tolerations(max(e.deploy.resources.gpu for e in pool.members))
    if tolerations:
        spec["tolerations"] = tolerations
    versions = ",".join(f"{e.id}={ctx.version(e)}" for e in pool.members)
    drain = {"terminationDrainDuration": f"{PRESTOP_DRAIN_S + in_flight_s}s"}
    return {
        "metadata": {
            "labels": pool_labels(ctx, pool.name, "server"),
            "annotations": {VERSIONS_ANNOTATION: versions, ISTIO_PROXY_CONFIG: json.dumps(drain)},
        },
        "spec": spec,
    }


def deployment(ctx: RenderContext, pool: Pool, workspace: dict[str, Any]) -> dict[str, Any]:
    """The pool's rolling-update Deployment; as many replicas as its most demanding model
    needs (two when one is in production), no HPA (the pool has no per-model load figure)."""
    name = pool_object_name(pool.name)
    annotations = {
        **workload_skips(ctx, pool.members[0]),  # one image for all: check() saw to it
        MODELS_ANNOTATION: ",".join(e.id for e in pool.members),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": pool_metadata(ctx, pool.name, name, "server", annotations),
        "spec": {
            "replicas": max(min_replicas(e) for e in pool.members),
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": pool_selector_labels(pool.name, "server")},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
            },
            "template": pod_template(ctx, pool, workspace),
        },
    }


def _service(ctx: RenderContext, pool: Pool, name: str, port: int, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": pool_metadata(ctx, pool.name, name, "server"),
        "spec": {
            **extra,
            "selector": pool_selector_labels(pool.name, "server"),
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _services(ctx: RenderContext, pool: Pool) -> list[dict[str, Any]]:
    """The pool's Service (what the models' routes go to) and a headless one for metrics."""
    name = pool_object_name(pool.name)
    metrics = _service(ctx, pool, f"{name}-metrics", HTTP_PORT, clusterIP="None")
    metrics["metadata"]["labels"]["modelyard.dev/metrics"] = "true"
    return [_service(ctx, pool, name, 80), metrics]


def _policy(ctx: RenderContext, pool: Pool) -> dict[str, Any]:
    name = pool_object_name(pool.name)
    ports = [{"protocol": "TCP", "port": HTTP_PORT}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": pool_metadata(ctx, pool.name, f"{name}-server", "network"),
        "spec": {
            "podSelector": {"matchLabels": pool_selector_labels(pool.name, "server")},
            **server_rules(ctx, ports),
        },
    }


def _disruption_budget(ctx: RenderContext, pool: Pool) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": pool_metadata(ctx, pool.name, pool_object_name(pool.name), "server"),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": pool_selector_labels(pool.name, "server")},
        },
    }


def _destination_rule(ctx: RenderContext, pool: Pool) -> dict[str, Any]:
    """One rule for the pool's host (Istio takes one per host): the models' in-flight limits
    added up, on every replica."""
    name = pool_object_name(pool.name)
    replicas = max(min_replicas(e) for e in pool.members)
    in_flight = sum(e.deploy.circuit_breaker.max_in_flight for e in pool.members) * replicas
    policy = {
        "connectionPool": {"http": {"http2MaxRequests": in_flight}},
        "outlierDetection": {
            "consecutive5xxErrors": 5,
            "interval": "10s",
            "baseEjectionTime": "30s",
            "maxEjectionPercent": 50,
        },
    }
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": pool_metadata(ctx, pool.name, name, "traffic"),
        "spec": {
            "host": f"{name}.{ctx.namespace}.svc.cluster.local",
            "trafficPolicy": policy,
        },
    }


def _service_monitor(ctx: RenderContext, pool: Pool) -> dict[str, Any]:
    """Scrape each pool pod once; its metrics carry each model's name as a label."""
    meta = pool_metadata(ctx, pool.name, pool_object_name(pool.name), "monitoring")
    meta["labels"].update(ctx.settings.kubernetes.monitor_labels)
    selector = {**pool_selector_labels(pool.name, "server"), "modelyard.dev/metrics": "true"}
    del selector["app.kubernetes.io/instance"]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": meta,
        "spec": {
            "selector": {"matchLabels": selector},
            "namespaceSelector": {"matchNames": [ctx.namespace]},
            "endpoints": [
                {"port": "http", "path": "/metrics", "interval": monitoring.SCRAPE_INTERVAL}
            ],
        },
    }
