"""Istio routing: the ``VirtualService`` whose route weights Argo moves (bound to the ingress
gateway too when ``kubernetes.gateway`` is set), and a ``DestinationRule`` per host. The
analysis that steers a rollout is in :mod:`modelyard.k8s.analysis`.
"""

from __future__ import annotations

from typing import Any

from modelyard.config import ModelEntry
from modelyard.k8s.context import GRPC_PORT, RenderContext, metadata, pool_object_name
from modelyard.k8s.serving import GRPC_ROUTE, PRIMARY_ROUTE, canary_service_name

ADMIN_BLOCK_ROUTE = "no-admin-from-gateway"


def _host(ctx: RenderContext, service: str) -> str:
    return f"{service}.{ctx.namespace}.svc.cluster.local"


def external_host(ctx: RenderContext, entry: ModelEntry) -> str | None:
    """``<id>.<gateway_domain>`` when ``kubernetes.gateway`` admits outside traffic."""
    k8s = ctx.settings.kubernetes
    if k8s.gateway is None or not k8s.gateway_domain:
        return None
    return f"{entry.id}.{k8s.gateway_domain}"


def virtual_service(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    """Route the model's host to the stable Service, and the canary at weight 0 (Argo moves it).

    With ``kubernetes.gateway`` set the routes bind to that gateway as well as ``mesh``, so
    traffic from outside follows the same weights; ``/admin`` answers 404 to gateway callers
    (the admin API is for operators inside the cluster).
    """
    port = {"number": 80}
    pooled = entry.deploy.pool is not None
    # A pooled model keeps its host; its requests go to the pool's Service (no canary there).
    stable = pool_object_name(entry.deploy.pool.name) if entry.deploy.pool else entry.id
    # Each its own dict: a shared one would be written as a YAML alias.
    route = [{"destination": {"host": _host(ctx, stable), "port": dict(port)}, "weight": 100}]
    if entry.deploy.rollout.enabled and not pooled:
        canary = {"host": _host(ctx, canary_service_name(entry)), "port": dict(port)}
        route.append({"destination": canary, "weight": 0})
    hosts = [_host(ctx, entry.id)]
    http: list[dict[str, Any]] = []
    spec: dict[str, Any] = {"hosts": hosts}
    gateway = ctx.settings.kubernetes.gateway
    outside = external_host(ctx, entry)
    if gateway is not None and outside is not None:
        hosts.append(outside)
        spec["gateways"] = ["mesh", gateway]
        http.append(
            {
                "name": ADMIN_BLOCK_ROUTE,
                "match": [{"uri": {"prefix": "/admin"}, "gateways": [gateway]}],
                "fault": {"abort": {"httpStatus": 404, "percentage": {"value": 100}}},
                "route": [{"destination": {"host": _host(ctx, stable), "port": dict(port)}}],
            }
        )
    if entry.deploy.grpc:
        # first: the primary route matches every port, and would send gRPC calls to port 80
        grpc_route = [
            {**item, "destination": {**target, "port": {"number": GRPC_PORT}}}
            for item in route
            if isinstance(target := item["destination"], dict)
        ]
        http.append({"name": GRPC_ROUTE, "match": [{"port": GRPC_PORT}], "route": grpc_route})
    http.append({"name": PRIMARY_ROUTE, "route": route})
    spec["http"] = http
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": metadata(ctx, entry, entry.id, "traffic"),
        "spec": spec,
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
