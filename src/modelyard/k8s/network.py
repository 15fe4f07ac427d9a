"""A ``NetworkPolicy`` per pod role of a model, admitting only the traffic that role needs.

- ``<id>-server`` (served models): ingress on the server port from pods of the same namespace
  and of ``kubernetes.caller_namespaces``, from the Istio ingress gateway (its labels are
  settings) when ``kubernetes.gateway`` is set, and from Prometheus, which scrapes ``/metrics``
  on the same port and the sidecar's metrics on 15020/15090. Egress stays open: a server
  loads its model from the registry and its Istio sidecar talks to istiod.
- ``<id>-training`` (every model that trains): no ingress at all; egress to DNS, the tracking
  server, the artifact store and the Kafka brokers that ``modelyard.yaml`` names, and nothing
  else. Training
  pods run outside the mesh (``sidecar.istio.io/inject: "false"``), since a sidecar would
  need istiod and would keep the Job from ever completing.

A NetworkPolicy selects peers by labels and addresses, never by DNS names, so each endpoint
of ``modelyard.yaml`` becomes the tightest rule its URI allows; see :func:`endpoint_rule`.
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from modelyard.config import ModelEntry
from modelyard.k8s.context import (
    GRPC_PORT,
    HTTP_PORT,
    RenderContext,
    RenderError,
    metadata,
    selector_labels,
)

NAMESPACE_LABEL = "kubernetes.io/metadata.name"
"""Label the API server puts on every namespace (its name), for namespace selectors."""
DNS_PEER = {
    "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
"""The cluster DNS (CoreDNS and kube-dns both carry ``k8s-app: kube-dns``)."""
ISTIO_METRICS_PORTS = (15020, 15090)
"""The sidecar's merged-metrics (15020) and Envoy stats (15090) ports Prometheus scrapes."""
DEFAULT_MONITORING_NAMESPACE = "monitoring"
OBJECT_STORE_SCHEMES = frozenset({"s3", "gs", "wasbs", "abfss"})
"""Artifact stores reached over HTTPS at addresses not known in advance."""
DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "mysql": 3306, "mssql": 1433}
LOCAL_SCHEMES = frozenset({"", "file", "sqlite"})
"""URIs that stay inside the pod: no egress needed."""
HTTPS = [{"protocol": "TCP", "port": 443}]


def ingress_gateway_peers(ctx: RenderContext) -> list[dict[str, Any]]:
    """The ingress gateway's pods as a NetworkPolicy peer, when ``kubernetes.gateway`` routes
    outside traffic in ([] otherwise: nothing from outside the mesh is meant to arrive)."""
    k8s = ctx.settings.kubernetes
    if k8s.gateway is None:
        return []
    return [
        {
            "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: k8s.ingress_gateway_namespace}},
            "podSelector": {"matchLabels": dict(k8s.ingress_gateway_labels)},
        }
    ]


def server_policy(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    """Ingress to the server pods: callers of the same namespace and of
    ``kubernetes.caller_namespaces``, the ingress gateway when ``kubernetes.gateway`` routes
    outside traffic here, and Prometheus (the server's port and the sidecar's metrics ports).
    """
    return _policy(ctx, entry, "server", server_rules(ctx, _server_ports(entry)))


def server_rules(ctx: RenderContext, ports: list[dict[str, Any]]) -> dict[str, Any]:
    """The ingress rules of server pods (a model's, or a pool's) listening on ``ports``."""
    k8s = ctx.settings.kubernetes
    prometheus = {
        "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: monitoring_namespace(ctx)}},
        "podSelector": {"matchLabels": dict(k8s.prometheus_pod_labels)},
    }
    callers: list[dict[str, Any]] = [{"podSelector": {}}]
    callers += [
        {"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: namespace}}}
        for namespace in k8s.caller_namespaces
    ]
    callers += ingress_gateway_peers(ctx)
    scrape_ports = [{"protocol": "TCP", "port": HTTP_PORT}] + [
        {"protocol": "TCP", "port": port} for port in ISTIO_METRICS_PORTS
    ]
    return {
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": callers, "ports": ports},
            {"from": [prometheus], "ports": scrape_ports},
        ],
    }


def _server_ports(entry: ModelEntry) -> list[dict[str, Any]]:
    ports = [{"protocol": "TCP", "port": HTTP_PORT}]
    if entry.deploy.grpc:
        ports.append({"protocol": "TCP", "port": GRPC_PORT})
    return ports


def training_policy(ctx: RenderContext, entry: ModelEntry) -> dict[str, Any]:
    """No ingress; egress to DNS, the tracking server and the artifact store only."""
    dns = {"to": [DNS_PEER], "ports": [{"protocol": p, "port": 53} for p in ("UDP", "TCP")]}
    egress = [dns]
    for field, uri in (
        ("tracking_uri", ctx.settings.tracking_uri),
        ("artifact_store", ctx.settings.artifact_store),
    ):
        rule = endpoint_rule(uri, field, entry)
        if rule is not None and rule not in egress:
            egress.append(rule)
    for rule in kafka_rules(ctx, entry):
        if rule not in egress:
            egress.append(rule)
    # Ingress listed with no rules: nothing may connect to a training pod.
    return _policy(ctx, entry, "training", {"policyTypes": ["Ingress", "Egress"], "egress": egress})


def kafka_rules(ctx: RenderContext, entry: ModelEntry) -> list[dict[str, Any]]:
    """Egress to each Kafka bootstrap server of ``modelyard.yaml`` (a dataset build reads
    topics from a training pod). The brokers a bootstrap server hands out are the same
    cluster's: for a cluster Service they are in its namespace, else on the same port."""
    kafka = ctx.settings.kafka
    if kafka is None:
        return []
    rules = []
    for server in kafka.bootstrap_servers.split(","):
        rule = endpoint_rule(f"kafka://{server}", "kafka.bootstrap_servers", entry)
        if rule is not None:
            rules.append(rule)
    return rules


def _policy(
    ctx: RenderContext, entry: ModelEntry, component: str, rules: dict[str, Any]
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(ctx, entry, f"{entry.id}-{component}", "network"),
        # A copy: the module's peers must not be shared with (or changed through) an object.
        "spec": {
            "podSelector": {"matchLabels": selector_labels(entry, component)},
            **copy.deepcopy(rules),
        },
    }


def monitoring_namespace(ctx: RenderContext) -> str:
    """Namespace of the Prometheus in ``kubernetes.prometheus_url`` (``monitoring`` if not
    a cluster Service address); the same Prometheus scrapes the ServiceMonitors."""
    host = urlsplit(ctx.prometheus_url).hostname or ""
    return _service_namespace(host) or DEFAULT_MONITORING_NAMESPACE


def _service_namespace(host: str) -> str | None:
    # <service>.<namespace>.svc[.<cluster domain>]
    parts = host.split(".")
    if len(parts) >= 3 and parts[2] == "svc":
        return parts[1]
    return None


def endpoint_rule(uri: str | None, field: str, entry: ModelEntry) -> dict[str, Any] | None:
    """The egress rule that reaches ``uri`` (None when it stays inside the pod).

    - ``s3://``, ``gs://``, Azure, Databricks: HTTPS to any address (they have no fixed one);
    - a cluster Service (``name.namespace.svc``): any pod of that namespace, any port (a
      policy matches the pods' port, which a Service may map from another);
    - a bare name: any pod of the model's own namespace;
    - an IP address: that address, on the URI's port;
    - any other host: the URI's port, at any address.
    """
    if uri is None:
        return None  # SQLite and files inside the pod
    if uri.split(":")[0] == "databricks":
        return {"ports": HTTPS}
    if "://" not in uri:
        return None  # a path
    parts = urlsplit(uri)
    scheme = parts.scheme.split("+")[0]  # postgresql+psycopg2 -> postgresql
    if scheme in LOCAL_SCHEMES:
        return None
    if scheme in OBJECT_STORE_SCHEMES:
        return {"ports": HTTPS}
    host = parts.hostname or ""
    if host in ("", "localhost") or _is_loopback(host):
        return None
    namespace = _service_namespace(host)
    if namespace is not None:
        return {"to": [{"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: namespace}}}]}
    if "." not in host:
        return {"to": [{"podSelector": {}}]}
    port = parts.port or DEFAULT_PORTS.get(scheme)
    if port is None:
        raise RenderError(
            entry.id,
            str(entry.dir.parent.parent / "modelyard.yaml"),
            field,
            f"cannot tell which port {uri!r} uses, so training pods cannot be allowed to "
            f"reach it; write the port in the URI ({scheme}://{host}:PORT/...)",
        )
    ports = [{"protocol": "TCP", "port": port}]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return {"ports": ports}  # a DNS name outside the cluster: its addresses may change
    cidr = f"{address}/{address.max_prefixlen}"
    return {"to": [{"ipBlock": {"cidr": cidr}}], "ports": ports}


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
